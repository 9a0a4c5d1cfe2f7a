import Testing
@testable import DirectoryBackend
import PVEStorage

/// The failures of volume_export / volume_import and replication are typed values
/// (ImportFailure, ExportFailure, ReplicationFailure), worded as before.
@Suite struct StreamFailureTests {
    static let volume = "100/vm-100-disk-0.raw"
    static let className = "PVE::Storage::Custom::SwiftPlugin"

    /// The error a throwing call fails with, or nil when it succeeds.
    static func thrown(_ body: () throws -> Void) -> StorageError? {
        do {
            try body()
            return nil
        } catch let error as StorageError {
            return error
        } catch {
            Issue.record("unexpected error: \(error)")
            return nil
        }
    }

    /// A storage in memory and `stream` imported into `volname` as `format`, without snapshots.
    static func importing(_ stream: [UInt8], into volname: String = volume,
                          as format: FormatName<StreamFormat> = .known(.raw)) -> StorageError? {
        let directory = MemoryDirectory()
        let storage = DirectoryStorage(id: "d", config: StorageConfig(path: directory.path), system: directory.system)
        let source = directory.system.stream(stream)
        defer { directory.system.closeFile(source) }
        return thrown {
            _ = try storage.importVolume(volname, format: format, from: source, withSnapshots: false, allowRename: false,
                                         className: className, print: { _ in })
        }
    }

    @Test func importWithoutSizeHeader() throws {
        let error = try #require(Self.importing([1, 2, 3]))
        #expect(error.failure(as: ImportFailure.self) == .noSizeHeader)
        #expect(error.message == "import: no size found in export header, aborting.")
        #expect(error.errno == nil)
    }

    @Test func importOfAShortRawStream() throws {
        let error = try #require(Self.importing(StreamHeader.encode(8192) + [UInt8](repeating: 7, count: 100)))
        #expect(error.failure(as: ImportFailure.self) == .streamTooShort(received: 100, announced: 8192))
        #expect(error.message == "import: the stream ended after 100 of 8192 bytes")
    }

    @Test func importOfAnUnknownFormat() throws {
        let error = try #require(Self.importing(StreamHeader.encode(0), as: .other("zfs")))
        #expect(error.failure(as: ImportFailure.self) == .formatNotAvailable(format: .other("zfs"), className: Self.className))
        #expect(error.message == "volume import format 'zfs' not available for \(Self.className)")
    }

    @Test func exportOfARawDiskAsTar() throws {
        let directory = MemoryDirectory()
        directory.write("images/100/vm-100-disk-0.raw", [UInt8](repeating: 1, count: 4096))
        let storage = DirectoryStorage(id: "d", config: StorageConfig(path: directory.path), system: directory.system)
        let sink = directory.system.sink()
        defer { directory.system.closeFile(sink) }
        let error = try #require(Self.thrown {
            try storage.exportVolume(Self.volume, format: .known(.tar), to: sink, snapshot: nil, baseSnapshot: nil,
                                     withSnapshots: false, className: Self.className)
        })
        #expect(error.failure(as: ExportFailure.self) == .formatNotAvailable(format: .known(.tar), className: Self.className))
        #expect(error.message == "volume export format tar+size not available for \(Self.className)")
        #expect(directory.system.written(to: sink).isEmpty, "nothing sent")
    }

    @Test func replicationOfAMissingSnapshot() throws {
        let (source, _) = try ReplicationMemoryTests.replicated()
        let error = try #require(Self.thrown { _ = try source.export(Self.volume, snapshot: "s7", base: nil) })
        #expect(error.failure(as: ReplicationFailure.self) == .snapshotMissing(name: "s7", volname: Self.volume))
        #expect(error.message == "export: snapshot 's7' of '\(Self.volume)' does not exist")
        #expect(error.errno == .noSuchFileOrDirectory)
    }

    @Test func replicationOfAStreamThatIsNone() throws {
        let fresh = ReplicationNode(id: "c", now: 1)
        fresh.directory.create("images", directory: true)
        let stream = StreamHeader.encode(4096) + [UInt8](repeating: 0, count: 4096)
        let error = try #require(Self.thrown { try fresh.receive(stream, Self.volume, snapshot: nil, base: nil) })
        #expect(error.failure(as: ReplicationFailure.self) == .stream(.notAReplicationStream))
        #expect(error.failure(as: ImportFailure.self) == nil)
        #expect(error.message == "import: not a replication stream of this plugin (raw+size with snapshots)")
    }
}
