import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

/// One case of Tests/Fixtures/prune-vectors.json (PVE's retention cases).
struct PruneVector: Sendable, CustomTestStringConvertible {
    var id: String
    var backups: [ContentItem]
    var vmid: String?
    var type: String?
    var keep: Value
    var expected: Value
    var testDescription: String { id }

    /// The cases, or why the fixture could not be read.
    static let loaded: Result<[PruneVector], Error> = Result {
        guard let root = try Fixture.json("prune-vectors.json") as? [String: Any] else {
            throw Fixture.Missing(description: "prune-vectors.json is not a JSON object")
        }
        let data = value(fromJSON: root)
        return (data["cases"].array ?? []).map { item in
            let list = item["backups"].array ?? data["backup_lists"][item["list"].string ?? ""].array ?? []
            let vmid = item["vmid"].string
            let backups = list.filter { vmid == nil || $0["vmid"].string == vmid }.map { entry in
                var backup = ContentItem(volid: entry["volid"].string ?? "", format: "tar.zst", size: 0,
                                         ctime: entry["ctime"].int ?? 0, content: .backup)
                backup.vmid = entry["vmid"].string
                backup.isProtected = entry["protected"].isTrue
                return backup
            }
            return PruneVector(id: item["id"].string ?? "?", backups: backups, vmid: vmid, type: item["type"].string,
                               keep: item["keep"], expected: item["expected"])
        }
    }

    /// Every case; empty when the fixture cannot be read (``PruneTests/vectorsPresent()`` fails then).
    static var all: [PruneVector] { (try? loaded.get()) ?? [] }
}

func byVolid(_ entries: [PruneEntry]) -> Value {
    perlNormalized(.array(entries.sorted { Array($0.volid.utf8).lexicographicallyPrecedes(Array($1.volid.utf8)) }.map(\.perlValue)))
}

@Suite("prune_backups: retention and removal")
struct PruneTests {
    @Test("all 28 retention vectors are present")
    func vectorsPresent() throws {
        #expect(try PruneVector.loaded.get().count == 28)
    }

    @Test("vector", arguments: PruneVector.all)
    func vector(case vector: PruneVector) throws {
        let entries = try PrunePlan.mark(vector.backups, keep: Retention(perl: vector.keep), vmid: vector.vmid, type: vector.type, in: InMemorySystem())
        #expect(byVolid(entries) == perlNormalized(vector.expected))
    }

    @Test("a wrong VMID in a standard name is an internal error")
    func wrongVMID() {
        var item = ContentItem(volid: "s:backup/vzdump-qemu-200-2020_01_01-00_00_00.vma", format: "vma", size: 0, ctime: 0, content: .backup)
        item.vmid = "100"
        #expect(failure { try PrunePlan.mark([item], keep: ["keep-last": 1], vmid: "100", type: nil, in: InMemorySystem()) }
            == "internal error - got wrong VMID '200' != '100'")
    }

    @Test("keep options are read as Perl reads them")
    func perlNumbers() {
        #expect(Retention(["keep-last": "0"]).keepsAll)
        #expect(Retention(["keep-all": 0, "keep-last": "abc"]).keepsAll)
        #expect(!Retention(["keep-bogus": "2"]).keepsAll)
        #expect(Retention(perl: .undef).keepsAll)
        #expect(Scalar(" 2x").number == 2 && Scalar("-1").number == -1 && Scalar(perl: .undef).number == 0)
    }

    static func backupDirectory() -> MemoryDirectory {
        let directory = MemoryDirectory()
        for stamp in ["2020_01_01-00_00_00", "2020_01_02-00_00_00", "2020_01_03-00_00_00", "2020_01_04-00_00_00"] {
            directory.create("dump/vzdump-qemu-100-\(stamp).vma.zst")
            write(directory, "dump/vzdump-qemu-100-\(stamp).log", "log")
            write(directory, "dump/vzdump-qemu-100-\(stamp).vma.zst.notes", "notes")
        }
        directory.create("dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.protected")
        directory.create("dump/vzdump-qemu-100-manual.vma")
        return directory
    }

    @Test("a dry run marks and touches nothing")
    func dryRun() throws {
        let directory = Self.backupDirectory()
        var log: [String] = []
        let result = try storage(directory, id: "s").pruneBackups(keep: ["keep-last": 1], vmid: nil, type: nil, dryRun: true,
                                                                   log: { log.append("\($0): \($1)") }, warn: { _ in })
        #expect(result.entries.map(\.mark) == [.protected, .remove, .remove, .keep, .renamed])
        #expect(log.isEmpty && !result.failed)
        #expect(directory.names(in: "dump").count == 14)
    }

    @Test("a real run removes archives with their log and notes, never protected ones")
    func realRun() throws {
        let directory = Self.backupDirectory()
        var log: [String] = []
        let result = try storage(directory, id: "s").pruneBackups(keep: ["keep-last": 1], vmid: "100", type: "qemu", dryRun: false,
                                                                   log: { log.append("\($0): \($1)") }, warn: { _ in })
        #expect(!result.failed)
        #expect(log == ["info: removing backup 's:backup/vzdump-qemu-100-2020_01_02-00_00_00.vma.zst'",
                        "info: removing backup 's:backup/vzdump-qemu-100-2020_01_03-00_00_00.vma.zst'"])
        let left = directory.names(in: "dump")
        #expect(left == [
            "vzdump-qemu-100-2020_01_01-00_00_00.log", "vzdump-qemu-100-2020_01_01-00_00_00.vma.zst",
            "vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.notes", "vzdump-qemu-100-2020_01_01-00_00_00.vma.zst.protected",
            "vzdump-qemu-100-2020_01_04-00_00_00.log", "vzdump-qemu-100-2020_01_04-00_00_00.vma.zst",
            "vzdump-qemu-100-2020_01_04-00_00_00.vma.zst.notes", "vzdump-qemu-100-manual.vma",
        ])
    }

    @Test("a failed removal is logged, the others go on, and the result says so")
    func failedRemoval() throws {
        let directory = Self.backupDirectory()
        var system = ScriptedSystem(base: directory.system)
        system.removeFileError = { $0.hasSuffix("2020_01_02-00_00_00.vma.zst") ? .permissionDenied : nil }
        var store = storage(directory, id: "s")
        store.system = system
        var log: [String] = []
        let result = try store.pruneBackups(keep: ["keep-last": 1], vmid: nil, type: nil, dryRun: false,
                                            log: { log.append("\($0): \($1)") }, warn: { _ in })
        #expect(result.failed)
        let path = directory.path + "/dump/vzdump-qemu-100-2020_01_02-00_00_00.vma.zst"
        #expect(log == ["info: removing backup 's:backup/vzdump-qemu-100-2020_01_02-00_00_00.vma.zst'",
                        "err: error when removing backup 's:backup/vzdump-qemu-100-2020_01_02-00_00_00.vma.zst' - removing archive \(path) failed: Permission denied\n\n",
                        "info: removing backup 's:backup/vzdump-qemu-100-2020_01_03-00_00_00.vma.zst'"])
        #expect(directory.system.exists(path))
        #expect(!directory.system.exists(directory.path + "/dump/vzdump-qemu-100-2020_01_03-00_00_00.vma.zst"))
    }

    @Test("an archive protected after listing is not removed")
    func protectedRace() throws {
        let directory = Self.backupDirectory()
        let store = storage(directory, id: "s")
        let path = directory.path + "/dump/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst"
        #expect(failure { try store.removeArchive(volid: "s:backup/vzdump-qemu-100-2020_01_01-00_00_00.vma.zst", warn: { _ in }) }
            == "cannot remove protected archive '\(path)'")
        #expect(directory.system.exists(path))
    }
}
