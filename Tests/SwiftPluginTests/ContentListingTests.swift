import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

/// A storage on a fresh directory in memory, with the vectors' metadata overrides when given.
func storage(_ directory: MemoryDirectory, id: String = "local", content: [String]? = nil,
             extra: [String: Value] = [:], overrides: MetadataOverrides? = nil) -> DirectoryStorage {
    var storage = DirectoryStorage(id: id, config: StorageConfig(path: directory.path, content: content, extra: extra),
                                   system: directory.system)
    if let overrides {
        storage.system = OverridingSystem(base: directory.system, overrides: overrides)
    }
    return storage
}

func write(_ directory: MemoryDirectory, _ relative: String, _ text: String) {
    directory.write(relative, text)
}

@Suite("list_volumes: iso, vztmpl, backup, snippets and import")
struct ContentListingTests {
    static let vectors = SharedVector.suite("list_volumes")


    /// Runs a vector on the setup it describes: images made by qemu-img, on disk.
    static func run(_ vector: SharedVector) throws -> Value {
        let directory = TemporaryDirectory()
        for step in vector.input["setup"].array ?? [] {
            let path = (step["path"].string ?? "").replacingOccurrences(of: "${STORAGE_DIR}/", with: "")
            switch step["create"].string {
            case "qemu-img":
                // The image the vector describes (the mocks replace only its sizes and times).
                directory.create(path)
                var arguments = ["create", "-f", step["format"].string ?? "raw"]
                if let backing = step["backing"].string {
                    arguments += ["-u", "-b", backing, "-F", step["backing_format"].string ?? "qcow2"]
                }
                arguments += [directory.path + "/" + path, step["size"].string ?? "0"]
                let result = try LiveSystem().run(Command("/usr/bin/qemu-img", arguments, timeout: 30))
                #expect(result.succeeded, "qemu-img \(arguments): \(result.errorText)")
            default:
                directory.create(path, directory: step["create"].string == "dir")
            }
        }
        var scfg = vector.input["scfg"].hash ?? [:]
        scfg["path"] = .string(directory.path)
        scfg["content"] = .hash(Dictionary(uniqueKeysWithValues: (scfg["content"]?.array ?? []).compactMap(\.string).map { ($0, Value.int(1)) }))
        var storage = DirectoryStorage(id: vector.input["storeid"].string ?? "", config: try StorageConfig(perl: .hash(scfg)))
        let overrides = MetadataOverrides(perl: vector.input["mocks"])!
        storage.system = OverridingSystem(base: LiveUTCSystem(), overrides: overrides)
        let types = (vector.input["content_types"].array ?? []).compactMap(\.string)
        let guests = (vector.input["vmlist"].hash ?? [:]).compactMapValues(\.string)
        return .array(try storage.listVolumes(vmid: vector.input["vmid"].string, contentTypeNames: types, guestTypes: guests).map(\.perlItem))
    }

    @Test("the shared vectors are present")
    func vectorsPresent() throws {
        try SharedVector.requireFixture()
        #expect(Self.vectors.count >= 4)
    }

    @Test("shared vector", arguments: Self.vectors)
    func sharedVector(vector: SharedVector) throws {
        #expect(perlNormalized(try Self.run(vector)) == vector.expected.map(perlNormalized))
    }

    @Test("name rules: case of extensions, compressions, .tgz, import names")
    func nameRules() throws {
        let directory = MemoryDirectory()
        for name in ["template/iso/A.ISO", "template/iso/b.img", "template/iso/.iso", "template/iso/c.iso.gz",
                     "template/cache/X.TAR.GZ", "template/cache/y.TAR", "template/cache/z.tar.Zst", "template/cache/w.tgz",
                     "template/cache/v.tar.lzo",
                     "dump/vzdump-qemu-100-2020_01_01-00_00_00.VMA", "dump/vzdump-lxc-100-2020_01_01-00_00_00.tgz",
                     "dump/foo-123-bar.vma", "dump/vzdump-qemu-99-2020_01_01-00_00_00.vma", "dump/x.vma.xz",
                     "dump/vzdump-qemu-100-2020_01_01-00_00_00.log", "dump/vzdump-lxc-100-2020_01_01-00_00_00.tgz.notes",
                     "import/disk.QCOW2", "import/my vm.ova", "import/a+b=c.vmdk", "import/x.iso", "import/y.ovf",
                     "snippets/hook.pl", "snippets/.hidden"] {
            directory.create(name)
        }
        directory.create("template/iso/dir.iso", directory: true)
        directory.create("snippets/subdir", directory: true)
        let store = storage(directory, overrides: MetadataOverrides(fileSize: 7, changeTime: 99))

        #expect(try store.listContent(.iso).map(\.volid) == ["local:iso/A.ISO", "local:iso/b.img"])
        #expect(try store.listContent(.vztmpl).map(\.format) == ["tGZ", "tTAR", "tZst"])
        let backups = try store.listContent(.backup)
        #expect(backups.map(\.volid) == ["local:backup/foo-123-bar.vma", "local:backup/vzdump-lxc-100-2020_01_01-00_00_00.tgz",
                                         "local:backup/vzdump-qemu-99-2020_01_01-00_00_00.vma"])
        #expect(backups.map(\.vmid) == ["123", "100", nil])
        #expect(backups.map(\.subtype) == ["unknown", "lxc", "qemu"])
        #expect(backups.map(\.format) == ["vma", "tgz", "vma"])
        #expect(backups.map(\.ctime) == [99, 1_577_836_800, 99])
        // Import extensions are lower case only (unlike ISO and template extensions).
        #expect(try store.listContent(.import).map(\.volid) == ["local:import/a+b=c.vmdk", "local:import/y.ovf"])
        #expect(try store.listContent(.import).map(\.format) == ["vmdk", "ovf"])
        #expect(try store.listContent(.snippets).map(\.perlItem) == [
            ["volid": "local:snippets/hook.pl", "format": "snippet", "size": 7, "ctime": 99, "content": "snippets"],
        ])
    }

    @Test("the VMID filter of backups, and iso/vztmpl only without one")
    func vmidFilter() throws {
        let directory = MemoryDirectory()
        for name in ["dump/vzdump-qemu-100-2020_01_01-00_00_00.vma", "dump/vzdump-qemu-1000-2020_01_01-00_00_00.vma",
                     "dump/-100-x.vma", "dump/a-100-.vma", "template/iso/a.iso", "snippets/s"] {
            directory.create(name)
        }
        let store = storage(directory)
        let listed = try store.listVolumes(vmid: "100", contentTypes: [.iso, .vztmpl, .backup, .snippets], guestTypes: [:])
        #expect(listed.map { $0.perlItem["volid"] } == ["local:backup/a-100-.vma", "local:backup/vzdump-qemu-100-2020_01_01-00_00_00.vma", "local:snippets/s"])
        #expect(listed.first?.perlItem["vmid"] == "100")
        // Without a path nothing but images is listed.
        let pathless = DirectoryStorage(id: "x", config: StorageConfig(path: nil))
        #expect(try pathless.listVolumes(vmid: nil, contentTypes: [.iso, .backup], guestTypes: [:]) == [])
        #expect(try pathless.listVolumes(vmid: nil, contentTypeNames: ["iso", "none"], guestTypes: [:]) == [])
        // As dir: the content directory is looked up first, so `none` is an error.
        #expect(failure { try store.listVolumes(vmid: nil, contentTypeNames: ["none"], guestTypes: [:]) } == "unknown vtype 'none'")
    }

    @Test("backup items carry the first line of their notes and the protection marker")
    func sidecarsInListing() throws {
        let directory = MemoryDirectory()
        directory.create("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst")
        directory.create("dump/vzdump-qemu-101-2020_01_01-00_00_00.vma.zst")
        directory.create("dump/vzdump-qemu-102-2020_01_01-00_00_00.vma.zst")
        write(directory, "dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.notes", "first ☺\nsecond\n")
        directory.create("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.protected")
        directory.write("dump/vzdump-qemu-101-2020_01_01-00_00_00.vma.zst.notes", [0x61, 0xFF, 0x0A])
        write(directory, "dump/vzdump-qemu-102-2020_01_01-00_00_00.vma.zst.notes", "")
        let items = try storage(directory).listContent(.backup)
        #expect(items.map(\.notes) == [.characters("first ☺"), .bytes([0x61, 0xFF]), nil])
        #expect(items.map(\.isProtected) == [true, false, false])
        #expect(items[0].perlItem["protected"] == 1 && items[1].perlItem.hash?["protected"] == nil)
    }

    @Test("an unreadable notes file fails the listing with dir's message")
    func unreadableNotes() {
        let directory = MemoryDirectory()
        directory.create("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma")
        write(directory, "dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.notes", "n")
        var store = storage(directory)
        var system = ScriptedSystem(base: directory.system)
        system.readError = { $0.hasSuffix(".notes") ? .permissionDenied : nil }
        store.system = system
        let notes = directory.path + "/dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.notes"
        #expect(failure { try store.listContent(.backup) } == "file '\(notes)' exists but open for reading failed - Permission denied")
    }

    @Test("content-dirs overrides move the listed directories")
    func contentDirectories() throws {
        let directory = MemoryDirectory()
        directory.create("isos/a.iso")
        directory.create("template/iso/b.iso")
        directory.create("backups/all/vzdump-lxc-100-2020_01_01-00_00_00.tar")
        let store = storage(directory, extra: ["content-dirs": ["iso": "isos", "backup": "backups/all"]])
        #expect(try store.listContent(.iso).map(\.volid) == ["local:iso/a.iso"])
        #expect(try store.listContent(.backup).map(\.volid) == ["local:backup/vzdump-lxc-100-2020_01_01-00_00_00.tar"])
    }

    @Test("hostile names are skipped, symlinks never lead outside the storage")
    func hostileNames() throws {
        let directory = MemoryDirectory()
        let outside = MemoryDirectory(directory.system)
        write(outside, "secret.iso", "x")
        write(outside, "secret", "top secret\n")
        directory.create("template/iso/inside.iso")
        directory.create("template/iso/ok.iso")
        for (link, target) in [("template/iso/escape.iso", outside.path + "/secret.iso"),
                               ("template/iso/dangling.iso", directory.path + "/nothing"),
                               ("template/iso/inner.iso", directory.path + "/template/iso/inside.iso"),
                               ("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma", directory.path + "/template/iso/inside.iso"),
                               ("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.notes", outside.path + "/secret")] {
            directory.symlink(link, to: target)
        }
        directory.create("template/iso/new\nline.iso")
        directory.create("template/iso/..iso")
        // A name that is not UTF-8.
        directory.system.createFile(in: directory.path + "/template/iso", rawName: Array("bad".utf8) + [0xFF] + Array(".iso".utf8))
        let store = storage(directory)
        #expect(try store.listContent(.iso).map(\.volid) == ["local:iso/inner.iso", "local:iso/inside.iso", "local:iso/ok.iso"])
        let backups = try store.listContent(.backup)
        #expect(backups.count == 1 && backups.first?.notes == nil)
        #expect(try store.listVolumes(vmid: nil, contentTypes: [.iso, .vztmpl, .backup, .snippets, .import], guestTypes: [:]).count == 4)
    }

    @Test("glob order: letters without case, then bytes")
    func globOrder() {
        let names = ["b.iso", "A.iso", "a.iso", "_x.iso", "Z.iso", "ä.iso", "1.iso"]
        #expect(names.sorted(by: GlobOrder.precedes) == ["ä.iso", "1.iso", "_x.iso", "A.iso", "a.iso", "b.iso", "Z.iso"])
    }
}
