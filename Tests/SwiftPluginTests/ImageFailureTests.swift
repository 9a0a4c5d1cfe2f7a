import Testing
@testable import DirectoryBackend
import PVEStorage

/// The image and snapshot methods fail with typed values (``ImageFailure``,
/// ``SnapshotFailure``, ``TemplateFailure``, ``QemuImgFailure``, ``ImageInspectionError``),
/// worded as PVE words them.
@Suite("image failures: typed values in PVE's words")
struct ImageFailureTests {
    /// The error `body` throws, nil when it succeeds (or throws something else).
    func thrown(_ body: () throws -> Void) -> StorageError? {
        do { try body() } catch { return error as? StorageError }
        return nil
    }

    func allocate(_ storage: DirectoryStorage, _ format: ImageFormat, name: String? = nil) throws -> String {
        try storage.allocateImage(vmid: "100", format: .known(format), name: name, sizeKiB: 1024)
    }

    @Test("a reflink snapshot that exists, and one that does not")
    func snapshotExistence() throws {
        let (store, _) = ReflinkSnapshotTests.reflinkStorage()
        let volume = try allocate(store, .raw)
        try store.takeSnapshot(volume, "s1")
        let exists = try #require(thrown { try store.takeSnapshot(volume, "s1") })
        #expect(exists.failure(as: SnapshotFailure.self) == .exists(name: "s1", volname: volume))
        #expect(exists.message == "snapshot 's1' already exists on '100/vm-100-disk-0.raw'")
        #expect(exists.errno == nil)
        let missing = try #require(thrown { _ = try store.deleteSnapshot(volume, "s2", running: false) })
        #expect(missing.failure(as: SnapshotFailure.self) == .missing(name: "s2", volname: volume))
        #expect(missing.message == "snapshot 's2' does not exist on '100/vm-100-disk-0.raw'")
    }

    @Test("an unlink that fails carries its errno")
    func snapshotNotDeleted() throws {
        let (store, directory) = ReflinkSnapshotTests.reflinkStorage()
        let volume = try allocate(store, .raw)
        try store.takeSnapshot(volume, "s1")
        let file = directory.path + "/images/" + volume + "@s1"
        var system = ScriptedSystem(base: directory.system)
        system.removeFileError = { path in path == file ? .permissionDenied : nil }
        let failing = DirectoryStorage(id: "s", config: StorageConfig(path: directory.path), system: system)
        let error = try #require(thrown { _ = try failing.deleteSnapshot(volume, "s1", running: false) })
        #expect(error.failure(as: SnapshotFailure.self)
            == .notDeleted(name: "s1", volname: volume, path: file, .permissionDenied))
        #expect(error.message == "can't delete snapshot s1 of volume 100/vm-100-disk-0.raw: unlink '\(file)' failed - Permission denied")
        #expect(error.errno == .permissionDenied)
    }

    @Test("allocating a name that is taken; a clone of no template")
    func allocationAndClone() throws {
        let (store, directory) = ReflinkSnapshotTests.reflinkStorage()
        let volume = try allocate(store, .raw, name: "vm-100-disk-0.raw")
        let path = directory.path + "/images/" + volume
        let taken = try #require(thrown { _ = try allocate(store, .raw, name: "vm-100-disk-0.raw") })
        #expect(taken.failure(as: ImageFailure.self) == .imageExists(path: path))
        #expect(taken.message == "disk image '\(path)' already exists")
        let wrong = try #require(thrown { _ = try allocate(store, .qcow2, name: "vm-100-disk-1.raw") })
        #expect(wrong.failure(as: ImageFailure.self) == .wrongExtension(name: "vm-100-disk-1.raw", format: .raw, requested: .known(.qcow2)))
        #expect(wrong.message == "illegal name 'vm-100-disk-1.raw' - wrong extension for format ('raw != 'qcow2')")
        let clone = try #require(thrown { _ = try store.cloneImage(volume, vmid: "101", snapshot: .none) })
        #expect(clone.failure(as: TemplateFailure.self) == .cloneOfNonBase)
        #expect(clone.message == "clone_image only works on base images")
    }

    @Test("qemu-img's failures: its last error line after the prefix, or the exit code after the command")
    func qemuImg() throws {
        let (store, directory) = ReflinkSnapshotTests.reflinkStorage()
        let volume = try allocate(store, .raw)
        let path = directory.path + "/images/" + volume
        directory.system.program = { _ throws(Errno) in
            CommandResult(exitStatus: 1, errorOutput: Array("qemu-img: first\nqemu-img: last words\n".utf8))
        }
        let create = try #require(thrown { _ = try allocate(store, .qcow2) })
        #expect(create.failure(as: QemuImgFailure.self) == .reported(prefix: "unable to create image", message: "qemu-img: last words"))
        #expect(create.message == "unable to create image: qemu-img: last words")
        directory.system.program = { _ throws(Errno) in CommandResult(exitStatus: 3) }
        let resize = try #require(thrown { _ = try store.resizeVolume(volume, size: "2097152", running: false, snapshot: .none, className: "X") })
        let command = "/usr/bin/qemu-img resize '--preallocation=off' -f raw \(path) 2097152"
        #expect(resize.failure(as: QemuImgFailure.self) == .failed(command: command, prefix: nil, .exitCode(3)))
        #expect(resize.message == "command '\(command)' failed: exit code 3")
    }

    @Test("a file that is not in its format: the inspector's failure, qemu-img's words")
    func inspection() throws {
        let (store, directory) = ReflinkSnapshotTests.reflinkStorage()
        directory.write("images/100/vm-100-disk-1.qcow2", [UInt8](repeating: 7, count: 4096))
        let path = directory.path + "/images/100/vm-100-disk-1.qcow2"
        let error = try #require(thrown { _ = try store.volumeSizeInfo("100/vm-100-disk-1.qcow2") })
        let failure = try #require(error.failure(as: ImageInspectionError.self))
        #expect(failure.kind == .wrongFormat && failure.path == path)
        #expect(error.message == "qemu-img: Could not open '\(path)': Image is not in qcow2 format")
    }
}
