import CPVEStorageSDK
import PVEStorage

#if canImport(Glibc)
import Glibc
#endif

/// A storage plugin's implementation: the type a plugin's generated C entry points
/// (SDK/gen-glue.pl) make once per call and call one method on.
///
/// Each method the plugin binds in its methods.txt is an instance method taking the
/// method's generated argument struct and returning the Perl return value; the
/// compiler checks that every bound method exists. Methods a plugin does not bind
/// stay PVE::Storage::Plugin's, in Perl; a `refuse` line binds one to ``refuse(_:package:method:)``
/// instead, without a Swift method. A method fails by throwing a ``StorageError``
/// around the plugin's own ``StorageFailure``.
public protocol StoragePlugin {
    /// The plugin for one call: `call` collects what the method warns, prints, logs
    /// and pushes, and says what the glue passed besides the arguments.
    init(call: Call)
}

/// Runs one plugin method for the C ABI: reads the call's Perl values into the
/// method's typed arguments, makes the plugin, calls the method and writes its result
/// into a new Perl value. Nothing thrown escapes; a failure fills the call's error.
/// Inlinable: each entry point gets it specialised for its plugin and arguments.
@inlinable
public func serve<Plugin: StoragePlugin, Arguments: PluginArguments, Result: PerlRepresentable>(
    _ pointer: UnsafeMutablePointer<spve_v1_call>?, package: String,
    _ method: (Plugin, Arguments) throws(StorageError) -> Result
) {
    guard let pointer else { return }
    let arguments = PerlArguments(pointer)
    let builder = PerlBuilder(pointer.pointee.perl)
    let call = Call(package: package, arguments: arguments, apiVersion: pointer.pointee.apiver)
    do throws(StorageError) {
        let result = try method(Plugin(call: call), try Arguments(from: arguments, call: call))
        pointer.pointee.result = result.perlValue(builder)
    } catch let failure {
        let code = failure.kind == .badRequest ? Int32(SPVE_ERROR_BAD_REQUEST) : failure.errno?.rawValue ?? Int32(SPVE_ERROR_FAILED)
        fail(&pointer.pointee.error, code: code, failure.message)
        // What the method warned, printed or pushed before failing still reaches Perl, as
        // PVE's dir warns and then dies (create_base of a missing image), or pushes the
        // blockers of a rollback and then dies.
    }
    pointer.pointee.sections = call.sections(builder)
}

/// Refuses `method` (a `refuse` line of methods.txt) with ``MethodRefusal``: the
/// arguments are not read and no plugin is made.
public func refuse(_ pointer: UnsafeMutablePointer<spve_v1_call>?, package: String, method: String) {
    guard let pointer else { return }
    let call = Call(package: package, arguments: PerlArguments(pointer), apiVersion: pointer.pointee.apiver)
    fail(&pointer.pointee.error, code: Int32(SPVE_ERROR_FAILED), MethodRefusal(method: method, className: call.className).description)
}

/// Fills the error; a NUL inside the message (from a hostile name) is shown as `\0`
/// instead of cutting the C string short.
@usableFromInline
func fail(_ error: inout spve_v1_error, code: Int32, _ message: String) {
    let printable = message.contains("\0") ? message.split(separator: "\0", omittingEmptySubsequences: false).joined(separator: "\\0") : message
    error = spve_v1_error(code: code, message: strdup(printable))
}

/// The memory the library returned to the glue (replies, error messages): a plugin's
/// `<prefix>free` calls this.
public func release(_ pointer: UnsafeMutableRawPointer?) { free(pointer) }

/// ``serve(_:package:_:)`` for a method of shape `list` or `context`: its result must
/// be a ``PerlList``, so a method that does not return the shape methods.txt declares
/// does not compile.
@inlinable
public func serveList<Plugin: StoragePlugin, Arguments: PluginArguments, Result: PerlList>(
    _ pointer: UnsafeMutablePointer<spve_v1_call>?, package: String,
    _ method: (Plugin, Arguments) throws(StorageError) -> Result
) {
    serve(pointer, package: package, method)
}
