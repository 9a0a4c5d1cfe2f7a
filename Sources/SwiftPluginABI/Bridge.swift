import CSwiftPlugin
import SwiftPluginCore
import SwiftPluginSystem

#if canImport(Glibc)
import Glibc
#endif

/// Runs one plugin method for the C ABI: decodes the request into the method's typed
/// arguments, calls the core, encodes the reply into malloc'd memory. Nothing thrown
/// escapes; a failure fills `error` and returns NULL.
func serve<Arguments: PluginArguments>(
    _ request: UnsafePointer<UInt8>?, _ requestLength: Int,
    _ replyLength: UnsafeMutablePointer<Int>?, _ errorOut: UnsafeMutablePointer<spve_v1_error>?,
    _ method: (Arguments, Call) throws(StorageError) -> Value
) -> UnsafeMutablePointer<UInt8>? {
    errorOut?.pointee = spve_v1_error(code: Int32(SPVE_ERROR_NONE), message: nil)
    replyLength?.pointee = 0
    guard let request, requestLength >= 0 else {
        return fail(errorOut, code: Int32(SPVE_ERROR_BAD_REQUEST), "internal error: no request")
    }
    let call = Call(system: LiveSystem())
    let result: Value
    do throws(StorageError) {
        var reader = RequestReader(UnsafeRawBufferPointer(start: request, count: requestLength))
        result = try method(try Arguments(from: &reader, call: call), call)
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
private func copied(_ reply: SwiftPluginCore.Reply, _ replyLength: UnsafeMutablePointer<Int>?) -> UnsafeMutablePointer<UInt8>? {
    let size = reply.size
    guard let memory = malloc(max(size, 1)) else { return nil }
    let written = reply.write(into: UnsafeMutableRawBufferPointer(start: memory, count: size))
    replyLength?.pointee = written
    return memory.assumingMemoryBound(to: UInt8.self)
}

/// Fills the error; a NUL inside the message (from a hostile name) is shown as `\0`
/// instead of cutting the C string short.
private func fail(_ error: UnsafeMutablePointer<spve_v1_error>?, code: Int32, _ message: String) -> UnsafeMutablePointer<UInt8>? {
    let printable = message.contains("\0") ? message.split(separator: "\0", omittingEmptySubsequences: false).joined(separator: "\\0") : message
    error?.pointee = spve_v1_error(code: code, message: strdup(printable))
    return nil
}
