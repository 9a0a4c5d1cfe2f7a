import DirectoryBackend
import PVEStorage
import PVEStoragePerl
import SwiftPluginSystem

/// The directory storage as a plugin of the SDK: PVE's plugin methods, one instance
/// method each (Methods/), named after the Perl method. Each takes the method's typed
/// arguments (generated from perl/methods.txt) and returns the Perl return value (a
/// list as an array; the glue flattens it). The storage logic is in the backend,
/// ``DirectoryStorage``; here are only the Perl shapes around it.
public struct DirectoryPlugin: StoragePlugin {
    /// What the glue passed besides the arguments, and what the method reports.
    public let call: Call
    /// The system calls the storage makes.
    public let system: any SystemCalls

    /// The plugin as PVE calls it: on the live system.
    public init(call: Call) {
        self.init(call: call, system: LiveSystem())
    }

    public init(call: Call, system: any SystemCalls) {
        self.call = call
        self.system = system
    }

    /// The release whose `dir` the call follows: PVE 9 unless the host says otherwise.
    var host: HostRelease { call.hostAPIVersion.map(HostRelease.init(apiVersion:)) ?? .pve9 }

    /// The storage a call is about.
    func storage(_ id: String, _ config: StorageConfig) -> DirectoryStorage {
        var storage = DirectoryStorage(id: id, config: config, system: system)
        storage.diagnostics = call.diagnostics
        storage.host = host
        return storage
    }
}
