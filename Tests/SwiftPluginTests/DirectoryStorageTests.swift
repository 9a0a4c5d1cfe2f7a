import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

@Suite("get_subdir and filesystem_path")
struct PathTests {
    let storage = DirectoryStorage(id: "store", config: StorageConfig(path: "/some/path"))

    @Test("the shared vectors are present")
    func vectorsPresent() throws {
        try SharedVector.requireFixture()
        #expect(SharedVector.suite("get_subdir").count >= 5 && SharedVector.suite("filesystem_path").count >= 3)
    }

    @Test("shared get_subdir vector", arguments: SharedVector.suite("get_subdir"))
    func subdirectoryVector(vector: SharedVector) throws {
        let storage = DirectoryStorage(id: "s", config: try StorageConfig(perl: vector.input["scfg"]))
        let vtype = vector.input["vtype"].string ?? ""
        if let message = vector.message {
            #expect(failure { try storage.config.location.subdirectory(named: vtype) }.map { $0 + "\n" } == message)
        } else {
            #expect(try storage.config.location.subdirectory(named: vtype) == vector.expected?.string)
        }
    }

    @Test("shared filesystem_path vector", arguments: SharedVector.suite("filesystem_path"))
    func pathVector(vector: SharedVector) throws {
        #expect(try DirectoryPlugin().invoke(DirectoryPlugin.filesystemPath, vector.input.hash ?? [:]) == vector.expected)
    }

    @Test("without a path, and for unknown content types")
    func errors() throws {
        let pathless = DirectoryStorage(id: "s", config: StorageConfig(path: nil))
        #expect(failure { try pathless.subdirectory(for: .iso) } == "storage definition has no path")
        #expect(failure { try DirectoryStorage(id: "s", config: StorageConfig(path: "0")).subdirectory(for: .iso) }
            == "storage definition has no path")
        #expect(failure { try pathless.config.location.subdirectory(named: "none") } == "storage definition has no path")
        #expect(failure { try storage.config.location.subdirectory(named: "none") } == "unknown vtype 'none'")
        // dir's test is m|^/|: the first character, even when a combining mark follows it.
        #expect(try DirectoryStorage(id: "s", config: StorageConfig(path: "/\u{301}mnt")).subdirectory(for: .iso) == "/\u{301}mnt/template/iso")
        #expect(failure { try DirectoryStorage(id: "s", config: StorageConfig(path: "mnt")).subdirectory(for: .iso) }
            == "storage path 'mnt' is not an absolute path")
    }

    @Test("snapshots exist only for qcow2")
    func snapshots() throws {
        #expect(try storage.filesystemPath("100/vm-100-disk-0.qcow2", snapshot: "s1").path == "/some/path/images/100/vm-100-disk-0.qcow2")
        #expect(failure { try storage.filesystemPath("100/vm-100-disk-0.raw", snapshot: "") } == "can't snapshot this image format")
        #expect(failure { try storage.filesystemPath("iso/a.iso", snapshot: "s") } == "can't snapshot this image format")
    }

    @Test("snapshot-as-volume-chain names snapshot files")
    func chain() throws {
        let chained = DirectoryStorage(id: "s", config: StorageConfig(path: "/p", extra: ["snapshot-as-volume-chain": 1]))
        #expect(try chained.filesystemPath("100/vm-100-disk-0.qcow2", snapshot: "s1").path == "/p/images/100/snap-s1-vm-100-disk-0.qcow2")
        #expect(try chained.filesystemPath("100/vm-100-disk-0.qcow2", snapshot: "current").path == "/p/images/100/vm-100-disk-0.qcow2")
    }

    @Test("linked clones live in the clone's directory")
    func linkedClone() throws {
        #expect(try storage.filesystemPath("9/base-9-disk-0.raw/100/vm-100-disk-0.qcow2").path == "/some/path/images/100/vm-100-disk-0.qcow2")
    }
}

@Suite("activate_storage and status")
struct ActivationTests {
    func storage(_ directory: MemoryDirectory, content: [String]? = ["images", "rootdir", "iso"],
                 extra: [String: Value] = [:], system: (any SystemCalls)? = nil) -> DirectoryStorage {
        DirectoryStorage(id: "store", config: StorageConfig(path: directory.path + "/root", content: content, extra: extra),
                         system: system ?? directory.system)
    }

    @Test("creates the path and the directories of the configured content")
    func createsDirectories() throws {
        let directory = MemoryDirectory()
        try storage(directory).activate()
        #expect(directory.isDirectory("root/images") && directory.isDirectory("root/private"))
        #expect(directory.isDirectory("root/template/iso"))
        #expect(directory.isDirectory("root/dump"), "rootdir content also gets the backup directory")
        #expect(!directory.isDirectory("root/snippets") && !directory.isDirectory("root/template/cache"))
    }

    @Test("no content key: only the path")
    func noContent() throws {
        let directory = MemoryDirectory()
        try storage(directory, content: nil).activate()
        #expect(directory.isDirectory("root") && !directory.isDirectory("root/images"))
    }

    @Test("create-base-path 0 and a missing path: refused")
    func missingPath() throws {
        let directory = MemoryDirectory()
        #expect(failure { try storage(directory, extra: ["create-base-path": 0]).activate() }
            == "unable to activate storage 'store' - directory '\(directory.path)/root' does not exist or is unreachable")
        #expect(failure { try storage(directory, extra: ["mkdir": 0]).activate() } != nil)
        #expect(!directory.isDirectory("root"))
    }

    @Test("create-base-path wins over mkdir")
    func createBasePathPrecedence() throws {
        let directory = MemoryDirectory()
        try storage(directory, extra: ["mkdir": 0, "create-base-path": 1]).activate()
        #expect(directory.isDirectory("root") && !directory.isDirectory("root/images"), "mkdir 0 still disables sub-directories")
    }

    @Test("create-subdirs 0: the path only")
    func noSubdirectories() throws {
        let directory = MemoryDirectory()
        try storage(directory, extra: ["create-subdirs": 0]).activate()
        #expect(directory.isDirectory("root") && !directory.isDirectory("root/images"))
    }

    @Test("two content types in one directory are refused")
    func sharedDirectory() throws {
        let directory = MemoryDirectory()
        let clash = storage(directory, content: ["iso", "vztmpl"], extra: ["content-dirs": ["iso": "same", "vztmpl": "same"]])
        #expect(failure { try clash.activate() } == "storage 'store' uses directory \(directory.path)/root/same for multiple content types")
    }

    @Test("content none fails as it does upstream")
    func contentNone() throws {
        let directory = MemoryDirectory()
        #expect(failure { try storage(directory, content: ["none"]).activate() } == "unknown vtype 'none'")
    }

    @Test("permission problems get PVE's hint")
    func permissionDenied() throws {
        let directory = MemoryDirectory()
        let system = ScriptedSystem(base: directory.system, makeDirectoryError: { $0.hasSuffix("/images") ? .permissionDenied : nil })
        #expect(failure { try storage(directory, system: system).activate() }
            == "failed to create content directory '\(directory.path)/root/images' for content 'images' - mkdir \(directory.path)/root/images: Permission denied - ensure that you have read and write access to your storage!")
    }

    @Test("other mkdir failures are reported plainly")
    func noSpace() throws {
        let directory = MemoryDirectory()
        let system = ScriptedSystem(base: directory.system, makeDirectoryError: { $0.hasSuffix("/template/iso") ? .noSpace : nil })
        #expect(failure { try storage(directory, system: system).activate() }
            == "failed to create content directory '\(directory.path)/root/template/iso' for content 'iso' - mkdir \(directory.path)/root/template/iso: No space left on device")
    }

    @Test("a hung mount counts as unreachable")
    func hungMount() throws {
        let directory = MemoryDirectory()
        #expect(failure { try storage(directory, system: ScriptedSystem(base: directory.system, probesHang: true)).activate() }
            == "unable to activate storage 'store' - directory '\(directory.path)/root' does not exist or is unreachable")
        #expect(try storage(directory, system: ScriptedSystem(base: directory.system, probesHang: true)).usage() == nil)
    }

    @Test("is_mountpoint: refused while not mounted, nothing created")
    func notMounted() throws {
        let directory = MemoryDirectory()
        #expect(failure { try storage(directory, extra: ["is_mountpoint": "yes"]).activate() }
            == "unable to activate storage 'store' - directory is expected to be a mount point but is not mounted: '\(directory.path)/root'")
        #expect(!directory.isDirectory("root"))
        #expect(try storage(directory, extra: ["is_mountpoint": "/nonexistent/mnt"]).usage() == nil)
    }

    @Test("is_mountpoint: accepted when /proc/mounts lists it (escapes decoded, symlinks resolved)")
    func mounted() throws {
        let directory = MemoryDirectory()
        directory.create("mnt point", directory: true)
        directory.symlink("link", to: "mnt point")
        let resolved = try directory.system.realPath(directory.path + "/link")
        let escaped = resolved.replacingOccurrences(of: " ", with: "\\040")
        directory.system.write("/proc/mounts", "tmpfs /run tmpfs rw 0 0\n/dev/sdb1 \(escaped) ext4 rw 0 0\n")
        try storage(directory, extra: ["is_mountpoint": .string(directory.path + "/link")]).activate()
        #expect(directory.isDirectory("root/images"))
        #expect(failure { try storage(directory, extra: ["is_mountpoint": "no"]).activate() } == nil)
    }

    @Test("status reports statvfs numbers, or nothing when total is 0")
    func status() throws {
        let directory = MemoryDirectory()
        let usage = FileSystemUsage(total: 1000, available: 300, used: 650)
        directory.create("root", directory: true) // statvfs needs the path
        directory.system.usage = usage
        #expect(try storage(directory).usage() == usage)
        directory.system.usage = FileSystemUsage(total: 0, available: 0, used: 0)
        #expect(try storage(directory).usage() == nil)
        #expect(failure { try DirectoryStorage(id: "s", config: StorageConfig(path: nil)).usage() } == "storage definition has no path")
    }
}

@Suite("configuration rules")
struct ConfigurationTests {
    @Test("a new storage's path is checked and canonicalised", arguments: [
        ("/mnt/data", "/mnt/data"), ("/mnt//data/", "/mnt/data"), ("/mnt/./data", "/mnt/data"),
        ("/mnt/a@b_c-d.e", "/mnt/a@b_c-d.e"), ("/../mnt", "/mnt"),
    ])
    func validPaths(path: String, canonical: String) throws {
        #expect(try DirectoryStorage.validatedPath(path) == canonical)
    }

    @Test("illegal paths", arguments: ["relative/path", "/mnt/with space", "/mnt/ümlaut", "/mnt/a;b", "", "/"])
    func illegalPaths(path: String) throws {
        #expect(failure { try DirectoryStorage.validatedPath(path) } == "illegal path for directory storage: \(path)")
    }

    @Test("mount table escapes")
    func mountTable() throws {
        #expect(MountTable.mountPoints("a /x\\040y b c 0 0\n# comment\nb /t\\011\\134 x y\n") == ["/x y", "/t\t\\"])
    }
}
