import PVEStorage
import CSystemShims
import DirectoryBackend

#if canImport(Glibc)
import Glibc
#endif

/// Batches of look-ups (``SystemCalls/probeFiles(_:)``), spread over a few threads.
extension LiveSystem {
    public func probeFiles(_ requests: [FileProbeRequest]) -> [FileProbe] {
        probeFiles(requests, always: false)
    }

    public func listDirectories(_ paths: [String]) -> [Result<[DirectoryEntry], Errno>] {
        listDirectories(paths, always: false)
    }

    /// `always` (tests): threads for every batch of at least ``WorkerPool/minimumJobs``,
    /// without timing the first jobs.
    func probeFiles(_ requests: [FileProbeRequest], always: Bool) -> [FileProbe] {
        let system = self
        return WorkerPool.map(count: requests.count, always: always) { system.probeFile(requests[$0]) }
    }

    func listDirectories(_ paths: [String], always: Bool) -> [Result<[DirectoryEntry], Errno>] {
        let system = self
        return WorkerPool.map(count: paths.count, always: always) { system.listDirectoryResult(paths[$0]) }
    }
}
