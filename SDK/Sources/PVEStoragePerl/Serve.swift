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
/// stay PVE::Storage::Plugin's, in Perl.
public protocol StoragePlugin {
    /// The plugin for one call: `call` collects what the method warns, prints, logs
    /// and pushes, and says what the glue passed besides the arguments.
    init(call: Call)
}

/// Runs one plugin method for the C ABI: decodes the request into the method's typed
/// arguments, makes the plugin, calls the method, encodes the reply into malloc'd
/// memory. Nothing thrown escapes; a failure fills `error` and returns NULL.
/// Inlinable: each entry point gets it specialised for its plugin and arguments.
@inlinable
public func serve<Plugin: StoragePlugin, Arguments: PluginArguments>(
    _ request: UnsafePointer<UInt8>?, _ requestLength: Int,
    _ replyLength: UnsafeMutablePointer<Int>?, _ errorOut: UnsafeMutablePointer<spve_v1_error>?,
    package: String,
    _ method: (Plugin, Arguments) throws(StorageError) -> Value
) -> UnsafeMutablePointer<UInt8>? {
    errorOut?.pointee = spve_v1_error(code: Int32(SPVE_ERROR_NONE), message: nil)
    replyLength?.pointee = 0
    guard let request, requestLength >= 0 else {
        return fail(errorOut, code: Int32(SPVE_ERROR_BAD_REQUEST), "internal error: no request")
    }
    let call = Call(className: package)
    let result: Value
    do throws(StorageError) {
        var reader = RequestReader(UnsafeRawBufferPointer(start: request, count: requestLength))
        let arguments = try Arguments(from: &reader, call: call)
        result = try method(Plugin(call: call), arguments)
    } catch let failure {
        let code = failure.kind == .badRequest ? Int32(SPVE_ERROR_BAD_REQUEST) : failure.errno?.rawValue ?? Int32(SPVE_ERROR_FAILED)
        _ = fail(errorOut, code: code, failure.message)
        // What the method warned, printed or pushed before failing still reaches Perl, as
        // PVE's dir warns and then dies (create_base of a missing image), or pushes the
        // blockers of a rollback and then dies.
        guard !call.warnings.isEmpty || !call.output.isEmpty || !call.pushed.isEmpty else { return nil }
        return copied(call.reply(.undef), replyLength)
    }
    guard let buffer = copied(call.reply(result), replyLength) else {
        return fail(errorOut, code: ENOMEM, "out of memory")
    }
    return buffer
}

/// The reply in malloc'd memory (nil when out of memory), its length stored in `replyLength`.
@usableFromInline
func copied(_ reply: Reply, _ replyLength: UnsafeMutablePointer<Int>?) -> UnsafeMutablePointer<UInt8>? {
    let size = reply.size
    guard let memory = malloc(max(size, 1)) else { return nil }
    let written = reply.write(into: UnsafeMutableRawBufferPointer(start: memory, count: size))
    replyLength?.pointee = written
    return memory.assumingMemoryBound(to: UInt8.self)
}

/// Fills the error; a NUL inside the message (from a hostile name) is shown as `\0`
/// instead of cutting the C string short.
@usableFromInline
func fail(_ error: UnsafeMutablePointer<spve_v1_error>?, code: Int32, _ message: String) -> UnsafeMutablePointer<UInt8>? {
    let printable = message.contains("\0") ? message.split(separator: "\0", omittingEmptySubsequences: false).joined(separator: "\\0") : message
    error?.pointee = spve_v1_error(code: code, message: strdup(printable))
    return nil
}

/// The memory the library returned to the glue (replies, error messages): a plugin's
/// `<prefix>free` calls this.
public func release(_ pointer: UnsafeMutableRawPointer?) { free(pointer) }
