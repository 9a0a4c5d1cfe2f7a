@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import PVEStorageTesting

// What only tests need of the core, kept out of the shipped library.

extension DirectoryPlugin {
    /// Runs `method` on arguments given by name as Perl values, through the same
    /// reading of Perl values as a call from Perl; returns the Perl result as a value.
    func invoke<Arguments: PluginArguments, Result: PerlRepresentable>(
        _ method: (DirectoryPlugin) -> (Arguments) throws(StorageError) -> Result, _ arguments: [String: Value]
    ) throws(StorageError) -> Value {
        let perl = InMemoryPerl()
        let positional = Arguments.parameters.map { arguments[$0] }
        let result = try perl.withCall(className: call.className, arguments: positional) { pointer throws(StorageError) in
            let decoded = try Arguments(from: PerlArguments(pointer), call: call)
            return try method(self)(decoded).perlValue(PerlBuilder(pointer.pointee.perl))
        }
        return perl.value(result)
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

// The Perl shapes of typed results, as values (what the glue would make of them).
extension ContentItem {
    var perlItem: Value { InMemoryPerl().value(of: self) }
}

extension ListedVolume {
    var perlItem: Value { InMemoryPerl().value(of: self) }
}

extension ImageInfo {
    var perlHash: [String: Value] { InMemoryPerl().value(of: self).hash ?? [:] }
}
