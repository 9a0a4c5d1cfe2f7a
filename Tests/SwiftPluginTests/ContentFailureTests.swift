import Testing
@testable import DirectoryBackend
import PVEStorage
import SwiftPluginSystem

/// The failures of content, storage, names and local time are typed values, worded as dir words them.
@Suite("content and storage failures are typed values")
struct ContentFailureTests {
    @Test("an unparsable volume name")
    func unparsableVolumeName() throws {
        let error = try #require(throws: StorageError.self) { try VolumeName.parse("iso/x.txt", for: .pve9) }
        #expect(error.failure(as: VolumeNameFailure.self) == .unparsable(volname: "iso/x.txt"))
        #expect(error.message == "unable to parse directory volume name 'iso/x.txt'")
        #expect(error.errno == nil)
    }

    @Test("an unknown content type and an illegal storage path")
    func storageLocation() throws {
        let location = StorageLocation(path: "/some/path")
        let unknown = try #require(throws: StorageError.self) { try location.subdirectory(named: "none") }
        #expect(unknown.failure(as: StorageLocationFailure.self) == .unknownContentType(name: "none"))
        #expect(unknown.message == "unknown vtype 'none'")
        let illegal = try #require(throws: StorageError.self) { try DirectoryStorage.validatedPath("/a b") }
        #expect(illegal.failure(as: StorageLocationFailure.self) == .illegalPath("/a b"))
        #expect(illegal.message == "illegal path for directory storage: /a b")
    }

    @Test("a content directory that cannot be created, with PVE's hint")
    func contentDirectoryNotCreated() throws {
        let directory = MemoryDirectory()
        let system = ScriptedSystem(base: directory.system, makeDirectoryError: { $0.hasSuffix("/images") ? .permissionDenied : nil })
        let store = DirectoryStorage(id: "store", config: StorageConfig(path: directory.path + "/root", content: [.images]),
                                     system: system)
        let error = try #require(throws: StorageError.self) { try store.activate() }
        let images = directory.path + "/root/images"
        #expect(error.failure(as: ActivationFailure.self)
            == .contentDirectoryNotCreated(directory: images, content: .images, .permissionDenied))
        #expect(error.message == "failed to create content directory '\(images)' for content 'images' - mkdir \(images): "
            + "Permission denied - ensure that you have read and write access to your storage!")
        #expect(error.errno == .permissionDenied)
    }

    @Test("notes longer than PVE reads")
    func notesTooLong() throws {
        let directory = MemoryDirectory()
        directory.create("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma")
        directory.write("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.notes", [UInt8](repeating: 0x61, count: BackupSidecars.maximumNotesSize + 1))
        let archive = directory.path + "/dump/vzdump-qemu-100-2020_01_01-00_00_00.vma"
        let error = try #require(throws: StorageError.self) {
            try BackupSidecars(system: directory.system, archivePath: archive).notes()
        }
        #expect(error.failure(as: BackupSidecarFailure.self) == .notesTooLong(path: archive + ".notes"))
        #expect(error.message == "file '\(archive).notes' too long - aborting")
    }

    @Test("a protected archive is not pruned")
    func protectedArchive() throws {
        let directory = MemoryDirectory()
        directory.create("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst")
        directory.create("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.protected")
        let store = storage(directory, id: "s")
        let path = directory.path + "/dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst"
        let error = try #require(throws: StorageError.self) {
            try store.removeArchive(volid: "s:backup/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst", warn: { _ in })
        }
        #expect(error.failure(as: PruneFailure.self) == .protectedArchive(path: path))
        #expect(error.message == "cannot remove protected archive '\(path)'")
    }

    @Test("an archive name with an impossible date")
    func impossibleDate() throws {
        let error = try #require(throws: StorageError.self) { try ArchiveInfo("vzdump-qemu-100-2020_02_30-00_00_00.vma") }
        #expect(error.failure(as: LocalTimeFailure.self) == .dayOutOfRange(30, days: 29))
        #expect(error.message == "Day '30' out of range 1..29")
        let month = try #require(throws: StorageError.self) { try LocalTime(year: 2020, month: 13, day: 1, hour: 0, minute: 0, second: 0).epoch(in: InMemorySystem()) }
        #expect(month.failure(as: LocalTimeFailure.self) == .monthOutOfRange(13))
        #expect(month.message == "Month '12' out of range 0..11")
    }
}
