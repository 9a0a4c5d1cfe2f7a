import DirectoryBackend
import PVEStorage
import PVEStoragePerl
import PVEStorageTesting
import SwiftPlugin

/// The fuzz targets: one per parser of bytes that reach the plugin from outside (a PVE
/// caller, a file in the storage, storage.cfg). The libFuzzer entry points
/// (fuzz/Entry/<name>.swift) and the regression test (fuzz/RegressionTests) both call
/// ``run(_:)``, so a saved input replays exactly what the fuzzer ran.
///
/// A target returns normally for every input, valid or not; a trap, a sanitizer report
/// or a failed consistency check (`fatalError`) is a finding.
public enum FuzzTarget: String, CaseIterable, Codable, Sendable {
    /// `VolumeName.parse` and the path it maps to (every method's `$volname`).
    case volumeName = "volume-name"
    /// A qcow2 file's header, through the image inspector (`list_images`, `volume_size_info`, ...).
    case qcow2Header = "qcow2-header"
    /// A qcow2 file's snapshot table (`volume_snapshot_info`, deleting internal snapshots).
    case qcow2Snapshots = "qcow2-snapshots"
    /// A vmdk file's header or text descriptor, through the image inspector.
    case vmdkHeader = "vmdk-header"
    /// A call's arguments as Perl values, read in place by the argument readers; results
    /// written into Perl values; the byte encoding of the input (`ValueCoding`), with a round trip.
    case requestDecoding = "request-decoding"
    /// Backup archive names (`ArchiveInfo`: listings, pruning).
    case archiveName = "archive-name"
    /// A storage's configuration (`$scfg`) as a call reads it, and what the storage reads from it.
    case storageOptions = "storage-options"
    /// The size header of a migration stream (`volume_import`), and its rounding to KiB.
    case streamHeader = "stream-header"
    /// A qcow2 file's cluster tables (L1, L2, extended L2), as `volume_export` reads them
    /// to send the image as raw, and the import checks of qcow2 and vmdk streams.
    case qcow2Clusters = "qcow2-clusters"
    /// `qemu-img info --output=json` about an imported image (`volume_import`'s check):
    /// qemu-img writes the JSON, the file names in it come from the image.
    case qemuImgInfo = "qemu-img-info"
    /// A replication stream (`volume_import` with snapshots, sent by the other node), the
    /// snapshot id attribute of a snapshot file, and the extent comparison that picks what
    /// an incremental stream sends.
    case replicationStream = "replication-stream"

    public func run(_ input: [UInt8]) {
        switch self {
        case .volumeName: VolumeNameTarget.run(input)
        case .qcow2Header: ImageHeaderTarget.run(input, format: .qcow2)
        case .qcow2Snapshots: SnapshotTableTarget.run(input)
        case .vmdkHeader: ImageHeaderTarget.run(input, format: .vmdk)
        case .requestDecoding: RequestDecodingTarget.run(input)
        case .archiveName: ArchiveNameTarget.run(input)
        case .storageOptions: StorageOptionsTarget.run(input)
        case .streamHeader: StreamHeaderTarget.run(input)
        case .qcow2Clusters: QCOW2ClustersTarget.run(input)
        case .qemuImgInfo: QemuImgInfoTarget.run(input)
        case .replicationStream: ReplicationStreamTarget.run(input)
        }
    }

    /// libFuzzer's `LLVMFuzzerTestOneInput`, for the entry points.
    public func run(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        guard let data, size > 0 else {
            run([])
            return 0
        }
        run(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}

/// A failed consistency check: the fuzzer reports it like a crash.
func violated(_ what: String) -> Never {
    fatalError("fuzz check failed: \(what)")
}
