@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin

// What only tests need of the core, kept out of the shipped library.

extension DirectoryPlugin {
    /// Runs `method` on arguments given as Perl values (as the glue would pass them),
    /// through the same decoding as a call from Perl.
    func invoke<Arguments: PluginArguments>(
        _ method: (DirectoryPlugin) -> (Arguments) throws(StorageError) -> Value, _ arguments: [String: Value]
    ) throws(StorageError) -> Value {
        let request = ValueCoding.encode(.hash(arguments))
        var decoded: Result<Arguments, StorageError> = .failure(StorageError("empty request"))
        request.withUnsafeBytes { buffer in
            var reader = RequestReader(buffer)
            do throws(StorageError) { decoded = .success(try Arguments(from: &reader, call: call)) } catch {
                decoded = .failure(error)
            }
        }
        return try method(self)(try decoded.get())
    }
}

extension ReflinkSupport {
    /// Forgets what was probed for `directory` (tests: only their own, as they run in parallel).
    static func forget(_ directory: String) { known.withLock { $0[directory] = nil } }
}

extension StorageConfig {
    /// A configuration with `path`, `content` and further options as PVE would pass them.
    init(path: String?, content: [String]? = nil, extra: [String: Value]) {
        self.init(path: path)
        setContent(content)
        for (key, value) in extra {
            if let option = Option(key) { set(option, value) }
        }
    }
}
