import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin

@Suite("parse_volname: the volume-name grammar of dir")
struct VolumeNameTests {
    static let vectors = SharedVector.suite("parse_volname")

    @Test("the shared vectors are present")
    func vectorsPresent() throws {
        try SharedVector.requireFixture()
        #expect(Self.vectors.count >= 20)
    }

    @Test("shared vector", arguments: Self.vectors)
    func sharedVector(vector: SharedVector) throws {
        let volname = vector.input["volname"].string ?? ""
        if let message = vector.message {
            #expect(failure { try VolumeName.parse(volname, for: .pve9) }.map { $0 + "\n" } == message)
        } else {
            #expect((try? VolumeName.parse(volname, for: .pve9)).map { Value.array($0.perlList) } == vector.expected)
        }
    }

    @Test("images, linked clones and free-form names", arguments: [
        ("100/vm-100-disk-0.raw", VolumeName(vtype: .images, name: "vm-100-disk-0.raw", vmid: "100", format: .image(.raw))),
        ("100/base-100-disk-1.qcow2", VolumeName(vtype: .images, name: "base-100-disk-1.qcow2", vmid: "100", isBase: true, format: .image(.qcow2))),
        ("100/subvol-100-disk-0.subvol", VolumeName(vtype: .images, name: "subvol-100-disk-0.subvol", vmid: "100", format: .image(.subvol))),
        ("0100/myname.vmdk", VolumeName(vtype: .images, name: "myname.vmdk", vmid: "0100", format: .image(.vmdk))),
        ("100/vm-999-disk-0.raw", VolumeName(vtype: .images, name: "vm-999-disk-0.raw", vmid: "100", format: .image(.raw))),
        ("100/base-.raw", VolumeName(vtype: .images, name: "base-.raw", vmid: "100", format: .image(.raw))),
        ("100/snap-x.raw", VolumeName(vtype: .images, name: "snap-x.raw", vmid: "100", format: .image(.raw))),
        ("9004/base-9004-disk-0.qcow2/16114/vm-16114-disk-0.qcow2",
         VolumeName(vtype: .images, name: "vm-16114-disk-0.qcow2", vmid: "16114", baseName: "base-9004-disk-0.qcow2", baseVMID: "9004", format: .image(.qcow2))),
        ("1/b.raw/2/base-2-disk-0.raw",
         VolumeName(vtype: .images, name: "base-2-disk-0.raw", vmid: "2", baseName: "b.raw", baseVMID: "1", isBase: true, format: .image(.raw))),
    ])
    func images(volname: String, expected: VolumeName) throws {
        #expect(try VolumeName.parse(volname, for: .pve9) == expected)
    }

    @Test("other content types", arguments: [
        ("iso/Debian 12.ISO", VolumeName(vtype: .iso, name: "Debian 12.ISO")),
        ("vztmpl/alpine.TAR.XZ", VolumeName(vtype: .vztmpl, name: "alpine.TAR.XZ")),
        ("vztmpl/alpine.tar", VolumeName(vtype: .vztmpl, name: "alpine.tar")),
        ("backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst", VolumeName(vtype: .backup, name: "vzdump-qemu-100-2024_01_01-00_00_00.vma.zst", vmid: "100")),
        ("backup/foo.tar", VolumeName(vtype: .backup, name: "foo.tar")),
        ("backup/vzdump-lxc-7-x.tgz", VolumeName(vtype: .backup, name: "vzdump-lxc-7-x.tgz", vmid: "7")),
        ("snippets/user data.yaml", VolumeName(vtype: .snippets, name: "user data.yaml")),
        ("import/My VM.ova/disk 1.qcow2", VolumeName(vtype: .import, name: "My VM.ova/disk 1.qcow2", format: .ovaMember(.qcow2))),
        ("import/disk.raw", VolumeName(vtype: .import, name: "disk.raw", format: .image(.raw))),
    ])
    func otherContent(volname: String, expected: VolumeName) throws {
        #expect(try VolumeName.parse(volname, for: .pve9) == expected)
    }

    @Test("refused names and their messages", arguments: [
        ("100/snap-s1-vm-100-disk-0.qcow2", "'snap-s1-vm-100-disk-0.qcow2' is a snapshot filename, not a volume!"),
        ("100/vm-100-disk-0.QCOW2", "unable to parse volume filename 'vm-100-disk-0.QCOW2'"),
        ("100/.raw", "unable to parse volume filename '.raw'"),
        ("100/a/b.raw", "unable to parse volume filename 'a/b.raw'"),
        ("x100/vm-100-disk-0.raw", "unable to parse directory volume name 'x100/vm-100-disk-0.raw'"),
        ("100/vm 100.raw", "unable to parse directory volume name '100/vm 100.raw'"),
        ("iso/.iso", "unable to parse directory volume name 'iso/.iso'"),
        ("iso/a/b.iso", "unable to parse directory volume name 'iso/a/b.iso'"),
        ("vztmpl/a.tgz", "unable to parse directory volume name 'vztmpl/a.tgz'"),
        ("backup/a.TAR", "unable to parse directory volume name 'backup/a.TAR'"),
        ("snippets/", "unable to parse directory volume name 'snippets/'"),
        ("import/a/b.raw", "unable to parse directory volume name 'import/a/b.raw'"),
        ("import/x.ova/../../etc.raw", "unable to parse directory volume name 'import/x.ova/../../etc.raw'"),
        ("import/a;b.raw", "unable to parse directory volume name 'import/a;b.raw'"),
        ("rootdir/100", "unable to parse directory volume name 'rootdir/100'"),
        ("", "unable to parse directory volume name ''"),
        ("../../etc/passwd", "unable to parse directory volume name '../../etc/passwd'"),
    ])
    func refused(volname: String, message: String) throws {
        #expect(failure { try VolumeName.parse(volname, for: .pve9) } == message)
    }

    @Test("PVE 8's grammar: its container directory names, snap- files as volumes, compressed templates only")
    func pve8() throws {
        #expect(try VolumeName.parse("rootdir/100", for: .pve8).perlList == ["rootdir", "100", "100", .undef, .undef, .undef, .undef])
        #expect(try VolumeName.parse("100/snap-x-vm-100-disk-0.qcow2", for: .pve8).format == .image(.qcow2))
        #expect(failure { try VolumeName.parse("100/snap-x-vm-100-disk-0.qcow2", for: .pve9) }
            == "'snap-x-vm-100-disk-0.qcow2' is a snapshot filename, not a volume!")
        #expect(failure { try VolumeName.parse("vztmpl/ct.tar", for: .pve8) } == "unable to parse directory volume name 'vztmpl/ct.tar'")
        #expect(try VolumeName.parse("vztmpl/ct.tar", for: .pve9).vtype == .vztmpl)
        #expect(try VolumeName.parse("vztmpl/ct.tar.zst", for: .pve8).vtype == .vztmpl)
        #expect(ContentNames.templateFormat(Array("ct.tar".utf8), for: .pve8) == nil)
        #expect(ContentNames.templateFormat(Array("ct.tar.xz".utf8), for: .pve8) == "txz")
    }

    @Test("the Perl list keeps undef and the literal 'base-'")
    func perlList() throws {
        #expect(try VolumeName.parse("100/base-100-disk-0.raw", for: .pve9).perlList
            == ["images", "base-100-disk-0.raw", "100", .undef, .undef, "base-", "raw"])
    }
}
