import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
@testable import SwiftPluginSystem

/// `probeFiles`: the batch of status and first bytes that listings make. LiveSystem runs
/// large batches on a few threads; the answers must be those of the plain sequential loop
/// (the protocol's default), each file's own, in the order asked.
@Suite("batches of file look-ups")
struct ProbeFilesTests {
    let system = LiveSystem()

    /// A directory with `count` files of distinct contents and sizes, and among them
    /// missing names, directories, symlinks (good and dangling) and a path through a file.
    static func requests(in directory: TemporaryDirectory, count: Int) -> [FileProbeRequest] {
        let root = directory.path
        var requests: [FileProbeRequest] = []
        for index in 0..<count {
            let path = root + "/file-\(index)"
            let follow = index % 3 != 0
            let head = [0, 1, 16, 4096, 70_000][index % 5]
            switch index % 11 {
            case 0: // missing: ENOENT
                requests.append(FileProbeRequest(path: path, followSymlinks: follow, headBytes: head))
            case 1: // a directory: status only
                directory.create("file-\(index)", directory: true)
                requests.append(FileProbeRequest(path: path, followSymlinks: follow, headBytes: head))
            case 2: // a symlink to a file: its own status without following, the file's with
                FileManager.default.createFile(atPath: path + ".target", contents: Data("target \(index)\n".utf8))
                symlink("file-\(index).target", path)
                requests.append(FileProbeRequest(path: path, followSymlinks: follow, headBytes: head))
            case 3: // a dangling symlink
                symlink("nowhere-\(index)", path)
                requests.append(FileProbeRequest(path: path, followSymlinks: follow, headBytes: head))
            case 4: // through a regular file: ENOTDIR
                FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
                requests.append(FileProbeRequest(path: path + "/below", followSymlinks: follow, headBytes: head))
            case 5: // empty
                FileManager.default.createFile(atPath: path, contents: Data())
                requests.append(FileProbeRequest(path: path, followSymlinks: follow, headBytes: head))
            default: // contents that name the file, of varied length (some longer than the head)
                let contents = "file \(index) " + String(repeating: "y", count: (index * 37) % 9000)
                FileManager.default.createFile(atPath: path, contents: Data(contents.utf8))
                requests.append(FileProbeRequest(path: path, followSymlinks: follow, headBytes: head))
            }
        }
        return requests
    }

    @Test("the pool answers as the sequential loop, errors included, in order", arguments: [0, 1, 5, 15, 16, 17, 100, 2000])
    func sameAsSequential(count: Int) throws {
        let directory = TemporaryDirectory()
        let requests = Self.requests(in: directory, count: count)
        let pooled = system.probeFiles(requests, always: true)
        let sequential = requests.map(system.probeFile)
        #expect(pooled.count == requests.count)
        #expect(pooled == sequential)
        #expect(system.probeFiles(requests) == sequential)
    }

    @Test("each answer is its own file's: status, contents and errno")
    func ownAnswers() throws {
        let directory = TemporaryDirectory()
        let requests = Self.requests(in: directory, count: 550)
        let probes = system.probeFiles(requests, always: true)
        for (request, probe) in zip(requests, probes) {
            let index = Int(request.path.split(separator: "/").first { $0.hasPrefix("file-") }!.dropFirst(5))!
            let follow = request.followSymlinks
            switch (index % 11, probe.status) {
            case (0, .failure(let error)):
                #expect(error == .noSuchFileOrDirectory)
                #expect(probe.head == nil)
            case (3, .failure(let error)) where follow:
                #expect(error == .noSuchFileOrDirectory)
            case (3, .success(let status)) where !follow:
                #expect(status.kind == .symlink && probe.head == nil)
            case (4, .failure(let error)):
                #expect(error == .notDirectory)
            case (1, .success(let status)):
                #expect(status.kind == .directory && probe.head == nil)
            case (2, .success(let status)):
                #expect(status.kind == (follow ? .regular : .symlink))
                let target = Array("target \(index)\n".utf8)
                #expect(probe.head == (follow && request.headBytes > 0 ? .success(Array(target.prefix(request.headBytes))) : nil))
            case (5, .success(let status)):
                #expect(status.size == 0)
                #expect(probe.head == (request.headBytes > 0 ? .success([]) : nil))
            case (let kind, .success(let status)) where kind >= 6:
                let contents = Array(("file \(index) " + String(repeating: "y", count: (index * 37) % 9000)).utf8)
                #expect(status.size == Int64(contents.count))
                #expect(probe.head == (request.headBytes > 0 ? .success(Array(contents.prefix(request.headBytes))) : nil))
            default:
                Issue.record("unexpected answer for \(request.path): \(probe)")
            }
        }
    }

    @Test("missing files among present ones: each its own answer, in order")
    func missingAmongPresent() throws {
        let directory = TemporaryDirectory()
        var requests: [FileProbeRequest] = []
        for index in 0..<64 {
            FileManager.default.createFile(atPath: directory.path + "/f\(index)", contents: Data("\(index)".utf8))
            requests.append(FileProbeRequest(path: directory.path + "/f\(index)", followSymlinks: true, headBytes: 8))
            requests.append(FileProbeRequest(path: directory.path + "/gone\(index)", followSymlinks: false, headBytes: 8))
        }
        let probes = system.probeFiles(requests, always: true)
        #expect(probes.count == requests.count)
        for (index, probe) in probes.enumerated() {
            if index % 2 == 0 {
                #expect((try? probe.status.get())?.kind == .regular)
                #expect(probe.head == .success(Array("\(index / 2)".utf8)))
            } else {
                #expect(probe.status.map { _ in 0 } == .failure(.noSuchFileOrDirectory))
                #expect(probe.head == nil)
            }
        }
    }

    @Test("directories are listed as one at a time, errors included, in order")
    func directories() throws {
        let directory = TemporaryDirectory()
        var paths: [String] = []
        for index in 0..<300 {
            let path = directory.path + "/d\(index)"
            switch index % 4 {
            case 0: paths.append(path) // missing
            case 1: directory.create("d\(index)"); paths.append(path) // a file: ENOTDIR
            default:
                directory.create("d\(index)", directory: true)
                for file in 0..<(index % 7) { directory.create("d\(index)/f\(file)") }
                paths.append(path)
            }
        }
        let sequential = paths.map(system.listDirectoryResult)
        let pooled = system.listDirectories(paths, always: true)
        #expect(pooled.count == paths.count)
        for (index, (one, other)) in zip(sequential, pooled).enumerated() {
            switch (one, other) {
            case (.success(let a), .success(let b)):
                #expect(Set(a.compactMap(\.name)) == Set(b.compactMap(\.name)))
                #expect(b.count == (index % 4 >= 2 ? index % 7 : -1))
            case (.failure(let a), .failure(let b)):
                #expect(a == b)
                #expect(a == (index % 4 == 0 ? .noSuchFileOrDirectory : .notDirectory))
            default: Issue.record("d\(index): \(one) against \(other)")
            }
        }
    }

    @Test("a test double without its own batch answers by the sequential default")
    func defaultForDoubles() throws {
        let directory = MemoryDirectory()
        let system = directory.system
        try system.writeFile(directory.path + "/a", contents: Array("hello".utf8), mode: 0o644, exclusive: true)
        let probes = system.probeFiles([
            FileProbeRequest(path: directory.path + "/a", followSymlinks: true, headBytes: 3),
            FileProbeRequest(path: directory.path + "/b", followSymlinks: true, headBytes: 3),
            FileProbeRequest(path: directory.path, followSymlinks: true, headBytes: 3),
        ])
        #expect(probes.count == 3)
        #expect(probes[0].head == .success(Array("hel".utf8)))
        #expect(probes[1].status.map { _ in 0 } == .failure(.noSuchFileOrDirectory))
        #expect((try? probes[2].status.get())?.kind == .directory && probes[2].head == nil)
    }
}
