@testable import SwiftPluginCore

// What only tests need of the core, kept out of the shipped library.

extension Call {
    /// Runs `method` on arguments given as Perl values (as the glue would pass them),
    /// through the same decoding as a call from Perl.
    func invoke<Arguments: PluginArguments>(
        _ method: (Arguments, Call) throws(StorageError) -> Value, _ arguments: [String: Value]
    ) throws(StorageError) -> Value {
        let request = ValueCoding.encode(.hash(arguments))
        var decoded: Result<Arguments, StorageError> = .failure(StorageError("empty request"))
        request.withUnsafeBytes { buffer in
            var reader = RequestReader(buffer)
            do throws(StorageError) { decoded = .success(try Arguments(from: &reader, call: self)) } catch {
                decoded = .failure(error)
            }
        }
        return try method(try decoded.get(), self)
    }
}

extension ReflinkSupport {
    /// Forgets what was probed for `directory` (tests: only their own, as they run in parallel).
    static func forget(_ directory: String) { known.withLock { $0[directory] = nil } }
}
