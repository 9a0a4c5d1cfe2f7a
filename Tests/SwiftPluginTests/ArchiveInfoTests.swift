import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

/// A value as Perl's is_deeply compares it: every defined scalar by its string.
func perlNormalized(_ value: Value) -> Value {
    switch value {
    case .int, .double, .text: return .string(value.string ?? "")
    case .array(let elements): return .array(elements.map(perlNormalized))
    case .hash(let members): return .hash(members.mapValues(perlNormalized))
    default: return value
    }
}

extension ArchiveInfo {
    /// The hash PVE::Storage's `archive_info` returns, from the parsed fields, to compare
    /// with the shared vectors. Only here: the library does not bind `archive_info` (a
    /// helper of PVE's, not a plugin method); its listing and pruning read the fields.
    var perlValue: Value {
        var members: [String: Value] = [
            "filename": .string(filename), "type": .string(type), "format": .string(format),
            "compression": .optional(compression),
            "decompressor": decompressor.map { .array($0.map(Value.string)) } ?? .undef,
            "is_std_name": standard == nil ? 0 : 1,
        ]
        if let standard {
            members["vmid"] = .int(standard.vmid)
            members["ctime"] = .int(standard.ctime)
            members["logfilename"] = .string(standard.logFilename)
            members["notesfilename"] = .string(standard.notesFilename)
        }
        return .hash(members)
    }
}

/// A zone a fixed hour east of UTC all year (Europe/Vienna in winter), by arithmetic.
struct UTCPlusOneSystem: ForwardingSystem {
    var base: any SystemCalls = InMemorySystem()
    func localTime(at epoch: Int64) -> LocalTime? { UTC.localTime(at: epoch + 3600) }
}

@Suite("archive_info: vzdump archive names")
struct ArchiveInfoTests {
    static let vectors = SharedVector.suite("archive_info")

    @Test("the shared vectors are present")
    func vectorsPresent() throws {
        try SharedVector.requireFixture()
        #expect(Self.vectors.count >= 16)
    }

    @Test("shared vector", arguments: Self.vectors)
    func sharedVector(vector: SharedVector) {
        let archive = vector.input["archive"].string ?? ""
        if let message = vector.message {
            #expect(failure { try ArchiveInfo(archive) }.map { $0 + "\n" } == message)
        } else {
            #expect((try? ArchiveInfo(archive)).map { perlNormalized($0.perlValue) } == vector.expected.map(perlNormalized))
        }
    }

    @Test("non-standard names: type and format, no vmid, time or companions")
    func nonStandard() throws {
        let info = try ArchiveInfo("vzdump-qemu-99-2020_01_01-00_00_00.vma.zst")
        #expect(info.type == "qemu" && info.format == "vma" && info.compression == "zst")
        #expect(info.standard == nil)
        #expect(info.perlValue["is_std_name"] == 0 && info.perlValue["vmid"] == .undef)
        #expect(try ArchiveInfo("vzdump-lxc-x.tar").perlValue["decompressor"] == .undef)
        #expect(try ArchiveInfo("vzdump-qemu-0100-2020_01_01-00_00_00.vma").standard == nil)
        #expect(try ArchiveInfo("vzdump-qemu-1234567890-2020_01_01-00_00_00.vma").standard == nil)
        #expect(try ArchiveInfo("vzdump-qemu-100-2020_01_01-00_00_00x.vma").standard == nil)
        #expect(perlNormalized(try ArchiveInfo("vzdump-qemu-100-manual.vma").perlValue) == perlNormalized([
            "filename": "vzdump-qemu-100-manual.vma", "type": "qemu", "format": "vma", "compression": .undef,
            "decompressor": .undef, "is_std_name": 0,
        ]))
    }

    @Test("names that are not archives", arguments: [
        "vzdump-qemu-.vma", "vzdump-kvm-100-x.vma", "vzdump-qemu-100-x.VMA", "vzdump-qemu-100-x.vma.xz",
        "foo.vma", "", "vzdump-qemu-1\n00.vma",
    ])
    func notArchives(name: String) {
        #expect(failure { try ArchiveInfo(name) } == "ERROR: couldn't determine archive info from '\(name)'")
    }

    @Test("a standard name with an impossible date fails as Time::Local does")
    func invalidDate() {
        #expect(failure { try ArchiveInfo("vzdump-qemu-100-2020_02_30-00_00_00.vma") } == "Day '30' out of range 1..29")
        #expect(failure { try ArchiveInfo("vzdump-qemu-100-2020_13_01-00_00_00.vma") } == "Month '12' out of range 0..11")
        #expect(failure { try ArchiveInfo("vzdump-qemu-100-2021_01_01-24_00_00.vma") } == "Hour '24' out of range 0..23")
    }

    @Test("the timestamp is local time")
    func localTime() throws {
        #expect(try ArchiveInfo("/x/vzdump-lxc-100-1970_01_01-00_01_23.tar.zst").standard?.ctime == 83)
        #expect(try ArchiveInfo("vzdump-lxc-100-2070_01_01-00_01_00.tar").standard?.ctime == 3_155_760_060)
        #expect(try ArchiveInfo("/mnt/x/vzdump-lxc-100-2024_01_01-12_00_00.tgz").standard?.ctime == 1_704_110_400)
        // An hour east of UTC the same name is an hour earlier (Perl's 66 checks real zones).
        #expect(try ArchiveInfo("vzdump-lxc-100-2024_01_01-12_00_00.tgz", in: UTCPlusOneSystem()).standard?.ctime == 1_704_106_800)
        let info = try ArchiveInfo("backup/vzdump-qemu-100-2020_01_01-12_18_21.vma.gz")
        #expect(info.standard?.logFilename == "vzdump-qemu-100-2020_01_01-12_18_21.log")
        #expect(info.standard?.notesFilename == "vzdump-qemu-100-2020_01_01-12_18_21.vma.gz.notes")
    }
}

@Suite("local time and ISO weeks")
struct LocalTimeTests {
    @Test("ISO weeks", arguments: [
        (2020, 12, 31, 53, 2020), (2021, 1, 1, 53, 2020), (2021, 1, 4, 1, 2021), (2020, 12, 4, 49, 2020),
        (2020, 12, 7, 50, 2020), (2019, 12, 30, 1, 2020), (2018, 5, 26, 21, 2018), (1970, 1, 1, 1, 1970),
        (2070, 1, 1, 1, 2070), (2027, 1, 1, 53, 2026),
    ])
    func isoWeek(year: Int, month: Int, day: Int, week: Int, weekYear: Int) {
        let time = LocalTime(year: year, month: month, day: day, hour: 12, minute: 0, second: 0)
        #expect(time.isoWeek.week == week && time.isoWeek.year == weekYear)
    }

    @Test("epoch round trip in UTC")
    func roundTrip() throws {
        let time = LocalTime(year: 2020, month: 1, day: 1, hour: 12, minute: 18, second: 21)
        #expect(try time.epoch(in: InMemorySystem()) == 1_577_881_101)
        #expect(InMemorySystem().localTime(at: 1_577_881_101) == time)
    }
}
