import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

@Suite("image store: listing, allocation, templates, faults")
struct ImageStoreTests {
    /// In memory; the test that runs the real qemu-img makes a TemporaryDirectory.
    let memory = MemoryDirectory()

    func storage(_ directory: TemporaryDirectory, _ system: any SystemCalls = LiveSystem()) -> DirectoryStorage {
        DirectoryStorage(id: "s", config: StorageConfig(path: directory.path), system: system)
    }

    func storageInMemory(_ system: (any SystemCalls)? = nil) -> DirectoryStorage {
        DirectoryStorage(id: "s", config: StorageConfig(path: memory.path), system: system ?? memory.system)
    }

    @Test("list item: parent always present, ctime only when non-zero")
    func itemHash() {
        let item = ImageInfo(volid: "s:100/a.raw", format: .raw, size: 1, vmid: "100", used: 2, parent: nil, changeTime: 0)
        #expect(item.perlHash == ["volid": "s:100/a.raw", "format": "raw", "size": 1, "vmid": "100", "used": 2, "parent": .undef])
        var dated = item
        dated.changeTime = 7
        #expect(dated.perlHash["ctime"] == 7)
    }

    @Test("allocation, and the listing's sizes: virtual from the header, used from stat")
    func allocateAndList() throws {
        let directory = TemporaryDirectory()
        let store = storage(directory)
        #expect(try store.allocateImage(vmid: "100", format: .known(.qcow2), name: nil, sizeKiB: 1024) == "100/vm-100-disk-0.qcow2")
        #expect(try store.allocateImage(vmid: "100", format: .known(.raw), name: nil, sizeKiB: "512") == "100/vm-100-disk-1.raw")
        let images = try store.listImages(vmid: "100", volumes: nil)
        #expect(images.map(\.volid) == ["s:100/vm-100-disk-0.qcow2", "s:100/vm-100-disk-1.raw"])
        #expect(images.map(\.size) == [1024 * 1024, 512 * 1024])
        var overridden = store
        overridden.system = OverridingSystem(overrides: MetadataOverrides(allocatedSize: 262144))
        #expect(try overridden.listImages(vmid: nil, volumes: nil).map { [$0.size, $0.used] } == [[1024 * 1024, 262144], [512 * 1024, 262144]])
        #expect(try store.listImages(vmid: nil, volumes: ["s:100/vm-100-disk-1.raw"]).count == 1)
    }

    @Test("qemu-img failing or timing out: no file, no empty directory, PVE's messages")
    func qemuImgFaults() throws {
        var system = ScriptedSystem(base: memory.system)
        system.commandResult = { _ in CommandResult(exitStatus: 1, errorOutput: Array("qemu-img: first\nqemu-img: disk full\n".utf8)) }
        let store = storageInMemory(system)
        #expect(failure { try store.allocateImage(vmid: "100", format: .known(.raw), name: nil, sizeKiB: 1) } == "unable to create image: qemu-img: disk full")
        #expect(store.diagnostics.warnings == ["qemu-img: first"])
        #expect(memory.names(in: "images") == [])
        system.commandResult = { _ in CommandResult(exitStatus: nil, signal: 9, timedOut: true) }
        #expect(failure { try storageInMemory(system).allocateImage(vmid: "100", format: .known(.raw), name: "x.raw", sizeKiB: 1) }
            == "command '/usr/bin/qemu-img create -o 'preallocation=off' -f raw \(memory.path)/images/100/.tmp.x.raw.\(memory.system.processID) 1K' failed: got timeout"
            .replacingOccurrences(of: "/.tmp.x.raw.\(memory.system.processID)", with: "/x.raw"))
        #expect(memory.names(in: "images") == [])
    }

    @Test("qemu-img succeeds but the image cannot be published: nothing left, the reason named")
    func publishFault() throws {
        memory.system.simulateRawQemuImg()
        var system = ScriptedSystem(base: memory.system)
        system.renameError = { _ in .noSpace }
        let store = storageInMemory(system)
        let message = failure { try store.allocateImage(vmid: "100", format: .known(.raw), name: "a.raw", sizeKiB: 1) }
        #expect(message == "unable to create image: cannot move the new image to '\(memory.path)/images/100/a.raw' - No space left on device")
        #expect(memory.names(in: "images") == [])
    }

    @Test("a file system without the immutable flag: warnings, never failures")
    func immutableUnsupported() throws {
        memory.system.simulateRawQemuImg()
        var system = ScriptedSystem(base: memory.system)
        system.immutableError = .notTypewriter
        let store = storageInMemory(system)
        let base = try store.createBase(try store.allocateImage(vmid: "100", format: .known(.raw), name: nil, sizeKiB: 1))
        #expect(base == "100/base-100-disk-0.raw")
        let path = "\(memory.path)/images/100/base-100-disk-0.raw"
        #expect(store.diagnostics.warnings == ["unable to set the immutable flag of '\(path)' - Inappropriate ioctl for device"])
        try store.freeVolume(base, isBase: true, format: .raw)
        #expect(store.diagnostics.warnings.last == "unable to clear the immutable flag of '\(path)' - Inappropriate ioctl for device")
        #expect(!memory.system.exists(path))
    }

    @Test("disk numbers: first match, any prefix, digits as written")
    func diskNumbers() {
        #expect(DirectoryStorage.diskNumber(in: "s:100/vm-100-disk-12.raw", vmid: "100") == "12")
        #expect(DirectoryStorage.diskNumber(in: "s:100/basevol-100-disk-3", vmid: "100") == "3")
        #expect(DirectoryStorage.diskNumber(in: "s:9/base-9-disk-0.raw/100/vm-100-disk-4.qcow2", vmid: "100") == "4")
        #expect(DirectoryStorage.diskNumber(in: "s:100/vm-1000-disk-1.raw", vmid: "100") == nil)
        #expect(DirectoryStorage.diskNumber(in: "s:100/vm-100-disk-07.raw", vmid: "100") == "07")
        #expect(DirectoryStorage.diskNumber(in: "s:100/mine.raw", vmid: "100") == nil)
    }

    @Test("linked-clone parents, as PVE matches them")
    func linkedBases() {
        #expect(DirectoryStorage.linkedBase("../9004/base-9004-disk-0.qcow2")! == ("9004", "base-9004-disk-0.qcow2"))
        #expect(DirectoryStorage.linkedBase("xy/12/a.raw")! == ("12", "a.raw"))
        #expect(DirectoryStorage.linkedBase("../ssss/base-1-disk-0.raw") == nil)
        #expect(DirectoryStorage.linkedBase("../12/a.txt") == nil)
        #expect(DirectoryStorage.linkedBase("../12/sub/a.raw") == nil)
        #expect(DirectoryStorage.linkedBase("/abs/12/a.raw") == nil)
    }

    @Test("listing order is Perl glob's: letters without case, then bytes")
    func globOrder() {
        let names = ["b.raw", "C.raw", "a.raw", "_x.raw", "B.raw", "é.raw", "ab.raw", "a", "aé"]
        #expect(GlobOrder.sorted(names) == ["é.raw", "_x.raw", "aé", "a", "a.raw", "ab.raw", "B.raw", "b.raw", "C.raw"])
    }

    @Test("a file of another format is a wrong format; a damaged or tiny one is not")
    func wrongFormat() throws {
        let inspector = ImageInspector(system: memory.system)
        func kind(_ bytes: [UInt8], as format: ImageFormat) throws -> ImageInspectionError.Kind? {
            let path = memory.path + "/image"
            try memory.system.writeFile(path, contents: bytes, mode: 0o644, exclusive: false)
            do { _ = try inspector.inspect(path, format: .image(format)) } catch { return error.kind }
            return nil
        }
        #expect(try kind([UInt8](repeating: 0, count: 1024), as: .qcow2) == .wrongFormat)
        #expect(try kind([UInt8](repeating: 0, count: 2), as: .vmdk) == .invalidHeader)
        #expect(try kind([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 9] + [UInt8](repeating: 0, count: 64), as: .qcow2) == .invalidHeader)
        #expect(try kind([UInt8](repeating: 0, count: 2), as: .raw) == nil)
    }

    @Test("preallocation per format, as dir passes it to qemu-img")
    func preallocation() throws {
        #expect(try QemuImg.preallocation(nil, format: .image(.qcow2)) == "metadata")
        #expect(try QemuImg.preallocation(nil, format: .image(.raw)) == "off")
        #expect(try QemuImg.preallocation("metadata", format: .image(.raw)) == "off")
        #expect(try QemuImg.preallocation("full", format: .image(.vmdk)) == nil)
        #expect(failure { try QemuImg.preallocation("metadata2", format: .image(.qcow2)) } == "preallocation mode 'metadata2' not supported by format 'qcow2'")
        #expect(QemuImg.resize(path: "/a b", format: .image(.raw), size: "1", preallocation: "off").shellText
            == "/usr/bin/qemu-img resize '--preallocation=off' -f raw '/a b' 1")
        // String::ShellQuote's unquoted characters (PVE's cmd2string): '=' is not one of them.
        #expect(Command("/x", ["a!b^c%d+e,f.g/h:i@j-k_l", "a=b", "", "a'b", "~"], timeout: 1).shellText
            == "/x a!b^c%d+e,f.g/h:i@j-k_l 'a=b' '' 'a'\\''b' '~'")
    }

    @Test("identities are version 4 UUIDs")
    func identity() throws {
        let first = try storageInMemory().identity()
        #expect(DirectoryStorage.isUUID(first))
        #expect(try storageInMemory().identity() == first)
        #expect(!DirectoryStorage.isUUID("6F9619FF-8B86-D011-B42D-00C04FC964FF"))
    }
}
