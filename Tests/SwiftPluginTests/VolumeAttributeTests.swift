import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

@Suite("get/update_volume_attribute: notes and protection of backups")
struct VolumeAttributeTests {
    static let backup = "backup/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst"

    func arguments(_ directory: MemoryDirectory, _ arguments: [String: Value]) -> [String: Value] {
        var members = arguments
        members["scfg"] = ["path": .string(directory.path), "type": "swift"]
        members["storeid"] = "s"
        return members
    }

    /// What a caller gets in scalar context (`my $notes = ...`): the list's value, or undef.
    func get(_ directory: MemoryDirectory, _ volname: String, _ attribute: String) throws -> Value {
        let list = try DirectoryPlugin(system: directory.system).invoke(DirectoryPlugin.getVolumeAttribute, arguments(directory, ["volname": .string(volname), "attribute": .string(attribute)]))
        return list.array?.last ?? .undef
    }

    func update(_ directory: MemoryDirectory, _ volname: String, _ attribute: String, _ value: Value) throws {
        _ = try DirectoryPlugin(system: directory.system).invoke(DirectoryPlugin.updateVolumeAttribute, arguments(directory, ["volname": .string(volname), "attribute": .string(attribute), "value": value]))
    }

    func bytes(_ directory: MemoryDirectory, _ relative: String) -> [UInt8]? {
        directory.contents(relative)
    }

    @Test("notes: written as UTF-8, read back whole, removed when emptied")
    func notes() throws {
        let directory = MemoryDirectory()
        directory.create("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst")
        #expect(try get(directory, Self.backup, "notes") == .text(""))
        try update(directory, Self.backup, "notes", .text("Grüße ☺\nline two"))
        #expect(bytes(directory, "dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.notes") == Array("Grüße ☺\nline two".utf8))
        #expect(try get(directory, Self.backup, "notes") == .text("Grüße ☺\nline two"))
        let mode = try directory.system.status(directory.path + "/dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.notes", followSymlinks: false).mode
        #expect(mode & 0o777 == 0o644)
        // A byte string is taken as Latin-1 characters, as Perl's encode does.
        try update(directory, Self.backup, "notes", .string("é"))
        #expect(bytes(directory, "dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.notes") == [0xC3, 0x83, 0xC2, 0xA9])
        try update(directory, Self.backup, "notes", .text(""))
        #expect(bytes(directory, "dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.notes") == nil)
        try update(directory, Self.backup, "notes", .undef)
        #expect(directory.names(in: "dump") == ["vzdump-qemu-100-2020_01_01-00_00_00.vma.zst"])
    }

    @Test("notes that are not UTF-8 come back as bytes")
    func invalidNotes() throws {
        let directory = MemoryDirectory()
        directory.create("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.notes")
        directory.write("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.notes", [0xFF, 0x41])
        #expect(try get(directory, Self.backup, "notes") == .bytes([0xFF, 0x41]))
    }

    @Test("protection: a marker file, 0644, no-op when unchanged")
    func protection() throws {
        let directory = MemoryDirectory()
        directory.create("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst")
        #expect(try get(directory, Self.backup, "protected") == 0)
        try update(directory, Self.backup, "protected", 1)
        try update(directory, Self.backup, "protected", "1")
        #expect(try get(directory, Self.backup, "protected") == 1)
        #expect(bytes(directory, "dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.protected") == [])
        try update(directory, Self.backup, "protected", 0)
        try update(directory, Self.backup, "protected", .undef)
        #expect(try get(directory, Self.backup, "protected") == 0)
    }

    @Test("dir's answers for other volumes and attributes")
    func otherAnswers() throws {
        let directory = MemoryDirectory()
        #expect(try get(directory, "iso/x.iso", "notes") == .undef)
        #expect(try get(directory, "100/vm-100-disk-0.raw", "protected") == .undef)
        #expect(try get(directory, Self.backup, "bogus") == .undef)
        #expect(failure { try update(directory, "iso/x.iso", "notes", "n") } == "only backups can have notes")
        #expect(failure { try update(directory, "100/vm-100-disk-0.raw", "protected", 1) } == "only backups support attribute 'protected'")
        #expect(failure { try update(directory, Self.backup, "bogus", 1) } == "attribute 'bogus' is not supported for storage type 'swift'")
        #expect(failure { try get(directory, "../etc/passwd", "notes") } == "unable to parse directory volume name '../etc/passwd'")
    }

    @Test("write failures leave no temporary file and keep the old notes")
    func writeFailure() throws {
        let directory = MemoryDirectory()
        write(directory, "dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.notes", "old")
        var system = ScriptedSystem(base: directory.system)
        system.writeError = { _ in .noSpace }
        let sidecars = BackupSidecars(system: system, archivePath: directory.path + "/dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst")
        let message = failure { try sidecars.setNotes(Array("new".utf8)) }
        // The temporary has a random name now (issue 10): the message names the notes file.
        #expect(message == "unable to open file '\(sidecars.notesPath)' - No space left on device")
        #expect(try sidecars.notes() == .characters("old"))
        #expect(directory.names(in: "dump") == ["vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.notes"])
    }

    @Test("a notes symlink is never followed")
    func notesSymlink() throws {
        let directory = MemoryDirectory()
        let outside = MemoryDirectory(directory.system)
        write(outside, "secret", "secret")
        directory.symlink("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.notes", to: outside.path + "/secret")
        #expect(try get(directory, Self.backup, "notes") == .text(""))
    }

    @Test("import metadata: volume checks and dir's result shape")
    func importMetadata() throws {
        let directory = MemoryDirectory()
        let store = storage(directory, id: "s")
        #expect(failure { try store.importSource("iso/x.iso") } == "invalid content type 'iso'")
        #expect(failure { try store.importSource("import/x.qcow2") } == "invalid format")
        #expect(try store.importSource("import/vm.ova") == ImportSource(path: directory.path + "/import/vm.ova", isOVA: true))
        let outside = MemoryDirectory(directory.system)
        outside.create("evil.ovf")
        directory.symlink("import/evil.ovf", to: outside.path + "/evil.ovf")
        #expect(failure { try store.importSource("import/evil.ovf") } == "import source 'import/evil.ovf' is a symbolic link leading outside the storage")

        let ovf: Value = ["qm": ["bios": "ovmf", "name": "vm"], "net": ["net0": ["model": "e1000"]],
                          "disks": [["disk_address": "scsi0", "virtual_size": 1024, "relative_path": "disk1.vmdk"],
                                    ["disk_address": "scsi1", "relative_path": "disk2.vmdk"]]]
        let ova = ImportMetadata(storeid: "s", volname: "import/vm.ova", isOVA: true, ovf: ovf).perlValue
        #expect(ova == [
            "type": "vm", "source": "import/vm.ova", "create-args": ["bios": "ovmf", "name": "vm"],
            "disks": ["scsi0": ["volid": "s:import/vm.ova/disk1.vmdk", "size": 1024], "scsi1": ["volid": "s:import/vm.ova/disk2.vmdk"],
                      "efidisk0": 1],
            "warnings": [["type": "ova-needs-extracting"], ["type": "efi-state-lost", "key": "bios", "value": "ovmf"]],
            "net": ["net0": ["model": "e1000"]],
        ])
        let plain = ImportMetadata(storeid: "s", volname: "import/vm.ovf", isOVA: false, ovf: ["qm": [:], "disks": [["disk_address": "sata0", "relative_path": "d.vmdk"]]]).perlValue
        #expect(plain["disks"] == ["sata0": ["volid": "s:import/d.vmdk"]] && plain["warnings"] == [] && plain["net"] == .undef)
    }
}
