import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

#if canImport(Glibc)
import Glibc
#endif

/// The double behaves as Linux does where the storage relies on it.
@Suite("the in-memory system")
struct InMemorySystemTests {
    let system = InMemorySystem()

    @Test("rename: replacing or not (EEXIST), onto itself, directories only onto empty directories")
    func rename() throws {
        system.write("/d/a", "a")
        system.write("/d/b", "b")
        #expect(throws: Errno.fileExists) { try system.rename("/d/a", to: "/d/b", replacing: false) }
        #expect(system.contents("/d/b") == Array("b".utf8))
        try system.rename("/d/a", to: "/d/b", replacing: true)
        #expect(system.names(in: "/d") == ["b"] && system.contents("/d/b") == Array("a".utf8))
        try system.rename("/d/b", to: "/d/c", replacing: false)
        #expect(system.names(in: "/d") == ["c"])
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.rename("/d/b", to: "/d/x", replacing: true) }
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.rename("/d/c", to: "/nowhere/x", replacing: true) }
        system.create("/e/full/f")
        system.create("/e/empty", directory: true)
        #expect(throws: Errno.isDirectory) { try system.rename("/d/c", to: "/e/empty", replacing: true) }
        #expect(throws: Errno.notDirectory) { try system.rename("/e/empty", to: "/d/c", replacing: true) }
        #expect(throws: Errno.notEmpty) { try system.rename("/e/empty", to: "/e/full", replacing: true) }
        #expect(throws: Errno.invalidArgument) { try system.rename("/e", to: "/e/empty/inside", replacing: true) }
        try system.rename("/e/full", to: "/e/empty", replacing: true)
        #expect(system.names(in: "/e") == ["empty"] && system.names(in: "/e/empty") == ["f"])
        // Two names of one file: nothing happens, both stay.
        try system.link("/d/c", to: "/d/c2")
        try system.rename("/d/c", to: "/d/c2", replacing: true)
        #expect(system.names(in: "/d") == ["c", "c2"])
    }

    @Test("link: one inode, two names; EEXIST, ENOENT, EPERM for directories")
    func link() throws {
        system.write("/d/a", "data")
        try system.link("/d/a", to: "/d/b")
        let (a, b) = (try system.status("/d/a", followSymlinks: false), try system.status("/d/b", followSymlinks: false))
        #expect(a.isSameFile(as: b) && a.inode != 0 && a.device == b.device)
        try system.removeFile("/d/a")
        #expect(system.contents("/d/b") == Array("data".utf8))
        system.write("/d/c", "c")
        #expect(throws: Errno.fileExists) { try system.link("/d/b", to: "/d/c") }
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.link("/d/a", to: "/d/x") }
        #expect(throws: Errno.operationNotPermitted) { try system.link("/d", to: "/e") }
        #expect(try !system.status("/d/c", followSymlinks: false).isSameFile(as: try system.status("/d/b", followSymlinks: false)))
    }

    @Test("EEXIST, ENOENT, ENOTDIR, EISDIR and ENOTEMPTY where Linux gives them")
    func errors() throws {
        system.write("/d/file", "x")
        #expect(throws: Errno.fileExists) { try system.makeDirectory("/d", mode: 0o755) }
        #expect(throws: Errno.fileExists) { try system.makeDirectory("/d/file", mode: 0o755) }
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.makeDirectory("/x/y", mode: 0o755) }
        #expect(throws: Errno.notDirectory) { try system.makeDirectory("/d/file/y", mode: 0o755) }
        #expect(throws: Errno.notDirectory) { try system.status("/d/file/y", followSymlinks: false) }
        #expect(throws: Errno.notDirectory) { try system.listDirectory("/d/file") }
        #expect(throws: Errno.isDirectory) { try system.removeFile("/d") }
        #expect(throws: Errno.isDirectory) { try system.readFile("/d") }
        #expect(throws: Errno.notEmpty) { try system.removeDirectory("/d") }
        #expect(throws: Errno.notDirectory) { try system.removeDirectory("/d/file") }
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.removeFile("/d/none") }
        #expect(throws: Errno.fileExists) { try system.writeFile("/d/file", contents: [], mode: 0o600, exclusive: true) }
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.writeFile("/x/f", contents: [], mode: 0o600, exclusive: false) }
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.run(Command("/usr/bin/qemu-img", [], timeout: 1)) }
        try system.removeFile("/d/file")
        try system.removeDirectory("/d")
        #expect(system.isGone("/d"))
    }

    @Test("modes: mkdir and umask-applying writes take the umask, others the exact mode")
    func modes() throws {
        system.umask = 0o027
        try system.makeDirectory("/d", mode: 0o777)
        try system.writeFile("/d/exact", contents: [], mode: 0o666, exclusive: true)
        try system.writeFile("/d/masked", contents: [], mode: 0o666, exclusive: true, applyingUmask: true)
        #expect(try system.status("/d", followSymlinks: false).mode == 0o750)
        #expect(try system.status("/d/exact", followSymlinks: false).mode == 0o666)
        #expect(try system.status("/d/masked", followSymlinks: false).mode == 0o640)
        try system.setMode("/d/masked", 0o600)
        #expect(try system.status("/d/masked", followSymlinks: false).mode == 0o600)
    }

    @Test("times come from the system's clock")
    func times() throws {
        system.now = 1000
        system.write("/f", "x")
        system.now = 2000
        try system.setMode("/f", 0o600)
        let info = try system.status("/f", followSymlinks: false)
        #expect(info.modificationTime == 1000 && info.changeTime == 2000 && system.currentTime() == 2000)
    }

    @Test("immutable files refuse unlink, rename, writes, links and chmod with EPERM")
    func immutable() throws {
        system.write("/d/f", "x")
        try system.setImmutable("/d/f", true)
        #expect(throws: Errno.operationNotPermitted) { try system.removeFile("/d/f") }
        #expect(throws: Errno.operationNotPermitted) { try system.rename("/d/f", to: "/d/g", replacing: true) }
        #expect(throws: Errno.operationNotPermitted) { try system.writeFile("/d/f", contents: [], mode: 0o644, exclusive: false) }
        #expect(throws: Errno.operationNotPermitted) { try system.openFile("/d/f", writing: true) }
        #expect(throws: Errno.operationNotPermitted) { try system.link("/d/f", to: "/d/g") }
        #expect(throws: Errno.operationNotPermitted) { try system.setMode("/d/f", 0o600) }
        #expect(throws: Errno.operationNotPermitted) { try system.removeTree("/d") }
        try system.setImmutable("/d/f", false)
        try system.removeTree("/d")
        #expect(system.isGone("/d"))
    }

    @Test("removeTree removes below, never through a symlink; a symlink given goes alone")
    func removeTree() throws {
        system.create("/outside/keep")
        system.create("/tree/a/b/c")
        system.symlink("/tree/link", to: "/outside")
        system.createFile(in: "/tree/a", rawName: Array("bad-".utf8) + [0xFF])
        system.symlink("/link", to: "/outside")
        try system.removeTree("/link")
        #expect(system.isGone("/link") && system.exists("/outside/keep"))
        try system.removeTree("/tree")
        #expect(system.isGone("/tree") && system.exists("/outside/keep"))
        try system.removeTree("/outside/keep")
        #expect(system.names(in: "/outside") == [])
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.removeTree("/tree") }
    }

    @Test("paths: slashes normalised, dot-dot, symlinks resolved by realPath, loops refused")
    func paths() throws {
        system.create("/a/b/file")
        system.symlink("/a/up", to: "..")
        system.symlink("/link", to: "a/b")
        system.symlink("/loop", to: "loop")
        system.symlink("/dangling", to: "/nothing")
        #expect(try system.realPath("//a//b/") == "/a/b")
        #expect(try system.realPath("/link/file") == "/a/b/file")
        #expect(try system.realPath("/a/up/a/./b/../b") == "/a/b")
        #expect(try system.realPath("/") == "/")
        #expect(throws: Errno.tooManySymlinks) { try system.realPath("/loop") }
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.realPath("/dangling") }
        #expect(try system.status("/dangling", followSymlinks: false).kind == .symlink)
        #expect(try system.status("/link", followSymlinks: true).kind == .directory)
        #expect(try system.listDirectory("/link").compactMap(\.name) == ["file"])
        // O_NOFOLLOW: a final symlink is not written through or opened.
        #expect(throws: Errno.tooManySymlinks) { try system.writeFile("/dangling", contents: [], mode: 0o644, exclusive: false) }
        #expect(throws: Errno.fileExists) { try system.writeFile("/dangling", contents: [], mode: 0o644, exclusive: true) }
        #expect(throws: Errno.tooManySymlinks) { try system.openFile("/link", writing: false) }
        #expect(system.isGone("/nothing"))
    }

    @Test("descriptors: positions, pread/pwrite, data and holes, sendfile, truncate")
    func descriptors() throws {
        system.write("/f", "hello")
        let file = try system.openFile("/f", writing: true)
        var buffer = [UInt8](repeating: 0, count: 8)
        #expect(throws: Errno.badDescriptor) { try buffer.withUnsafeMutableBytes { try system.readDescriptor(file, into: $0, at: nil) } }
        #expect(try Array("HE".utf8).withUnsafeBytes { try system.writeDescriptor(file, from: $0, at: nil) } == 2)
        #expect(try Array("!".utf8).withUnsafeBytes { try system.writeDescriptor(file, from: $0, at: 6) } == 1)
        #expect(system.contents("/f") == Array("HEllo\0!".utf8))
        try system.truncate(file, to: 4)
        try system.synchronize(file)
        system.closeFile(file)
        let reading = try system.openFile("/f", writing: false)
        #expect(try buffer.withUnsafeMutableBytes { try system.readDescriptor(reading, into: $0, at: 1) } == 3)
        #expect(Array(buffer.prefix(3)) == Array("Ell".utf8))
        #expect(try system.seek(reading, from: 1, hole: false) == 1 && system.seek(reading, from: 1, hole: true) == 4)
        #expect(try system.seek(reading, from: 4, hole: false) == nil)
        #expect(try system.status(of: reading).size == 4)
        let sink = system.sink()
        #expect(try system.sendFile(from: reading, at: 2, to: sink, count: 100) == 2)
        #expect(system.written(to: sink) == Array("ll".utf8))
        let stream = system.stream([1, 2, 3])
        #expect(try buffer.withUnsafeMutableBytes { try system.readDescriptor(stream, into: $0, at: nil) } == 3)
        #expect(try buffer.withUnsafeMutableBytes { try system.readDescriptor(stream, into: $0, at: nil) } == 0)
        #expect(throws: Errno.illegalSeek) { try system.seek(stream, from: 0, hole: false) }
        #expect(try !system.setNonBlocking(stream, true) && system.setNonBlocking(stream, false))
        for descriptor in [reading, sink, stream] { system.closeFile(descriptor) }
        #expect(throws: Errno.badDescriptor) { try system.status(of: reading) }
        #expect(system.openDescriptors == 0)
    }

    @Test("clones copy, or fail as the file system says")
    func clones() throws {
        system.write("/a", "data")
        system.create("/b")
        #expect(throws: Errno.notSupported) { try system.cloneFile("/a", into: "/b") }
        system.cloneError = nil
        try system.cloneFile("/a", into: "/b")
        #expect(system.contents("/b") == Array("data".utf8))
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.cloneFile("/a", into: "/c") }
    }

    @Test("extended attributes: the inode's (kept by rename and write, not copied by a clone), user namespace only")
    func extendedAttributes() throws {
        system.write("/d/a", "data")
        system.create("/d/b")
        system.symlink("/d/link", to: "a")
        #expect(try system.extendedAttribute("user.x", of: "/d/a") == nil)
        try system.setExtendedAttribute("user.x", of: "/d/a", to: [1, 2])
        #expect(try system.extendedAttribute("user.x", of: "/d/a") == [1, 2])
        try system.setExtendedAttribute("user.x", of: "/d/a", to: [])
        #expect(try system.extendedAttribute("user.x", of: "/d/a") == [], "an empty value is a value")
        try system.setExtendedAttribute("user.x", of: "/d/a", to: [3])
        system.cloneError = nil
        try system.cloneFile("/d/a", into: "/d/b")
        #expect(try system.extendedAttribute("user.x", of: "/d/b") == nil, "FICLONE shares data, not attributes")
        try system.rename("/d/a", to: "/d/c", replacing: false)
        #expect(try system.extendedAttribute("user.x", of: "/d/c") == [3] && system.attributes("/d/c") == ["user.x": [3]])
        try system.writeFile("/d/c", contents: [9], mode: 0o600, exclusive: false)
        #expect(try system.extendedAttribute("user.x", of: "/d/c") == [3], "O_TRUNC keeps the inode's attributes")
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.extendedAttribute("user.x", of: "/d/a") }
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.setExtendedAttribute("user.x", of: "/d/a", to: []) }
        #expect(try system.extendedAttribute("user.x", of: "/d/link") == nil, "a symlink has no user attributes")
        #expect(throws: Errno.operationNotPermitted) { try system.setExtendedAttribute("user.x", of: "/d/link", to: []) }
        #expect(throws: Errno.notSupported) { try system.setExtendedAttribute("trusted.x", of: "/d/c", to: []) }
        #expect(throws: Errno.argumentListTooLong) { try system.setExtendedAttribute("user.y", of: "/d/c", to: [UInt8](repeating: 0, count: 65537)) }
        try system.setImmutable("/d/c", true)
        #expect(throws: Errno.operationNotPermitted) { try system.setExtendedAttribute("user.x", of: "/d/c", to: []) }
        #expect(try system.extendedAttribute("user.x", of: "/d/c") == [3])
    }

    @Test("punching a hole: zeros within the file, the size kept; EBADF without writing")
    func punchHole() throws {
        system.write("/f", [UInt8](repeating: 7, count: 10))
        let file = try system.openFile("/f", writing: true)
        try system.punchHole(file, at: 2, count: 3)
        try system.punchHole(file, at: 8, count: 100)
        #expect(system.contents("/f") == [7, 7, 0, 0, 0, 7, 7, 7, 0, 0])
        try system.punchHole(file, at: 50, count: 10)
        #expect(system.contents("/f")?.count == 10, "beyond the end: nothing, the size kept")
        #expect(throws: Errno.invalidArgument) { try system.punchHole(file, at: -1, count: 3) }
        #expect(throws: Errno.invalidArgument) { try system.punchHole(file, at: 0, count: 0) }
        system.punchHoleError = .notSupported
        #expect(throws: Errno.notSupported) { try system.punchHole(file, at: 0, count: 1) }
        system.closeFile(file)
        let reading = try system.openFile("/f", writing: false)
        defer { system.closeFile(reading) }
        #expect(throws: Errno.badDescriptor) { try system.punchHole(reading, at: 0, count: 1) }
        #expect(throws: Errno.notSupported) { try system.extents(of: reading, from: 0, count: 10) }
    }

    @Test("what the storage reads of the kernel: boot ID, its start time, random bytes")
    func kernelFiles() throws {
        let owner = try #require(Temporaries.currentOwner(system))
        #expect(owner == Temporaries.Owner(boot: "0123abcd", pid: 4242, start: 777))
        let first = try system.readBytes("/dev/urandom", offset: 0, count: 8)
        let second = try system.readBytes("/dev/urandom", offset: 0, count: 8)
        #expect(first.count == 8 && first != second)
        let temporary = try system.createTemporaryFile(in: "/", mode: 0o600)
        #expect(Temporaries.owner(of: FilePath.name(of: temporary)) == owner)
    }

    @Test("a process in another PID namespace of the same kernel is another owner's node")
    func pidNamespaces() throws {
        #expect(Temporaries.bootID(system) == "0123abcd", "no namespace to read: the boot ID itself")
        #expect(Temporaries.bootID(PIDNamespaceSystem(base: system, namespace: Temporaries.hostPIDNamespace)) == "0123abcd",
                "the host's namespace: the boot ID itself (names as before)")
        #expect(Temporaries.bootID(PIDNamespaceSystem(base: system, namespace: Temporaries.hostPIDNamespace ^ 0x1111)) == "0123badc",
                "another namespace: mixed in")
    }

    /// The in-memory system in a PID namespace of the given inode.
    struct PIDNamespaceSystem: ForwardingSystem {
        var base: any SystemCalls
        var namespace: UInt64
        func status(_ path: String, followSymlinks: Bool) throws(Errno) -> FileStatus {
            guard path == "/proc/self/ns/pid" else { return try base.status(path, followSymlinks: followSymlinks) }
            return FileStatus(kind: .regular, inode: namespace)
        }
    }

    @Test("UTC by arithmetic: round trips, leap days, before 1970")
    func utc() throws {
        let cases: [(Int64, LocalTime)] = [
            (0, LocalTime(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0)),
            (-1, LocalTime(year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59)),
            (951_782_400, LocalTime(year: 2000, month: 2, day: 29, hour: 0, minute: 0, second: 0)),
            (1_582_934_400, LocalTime(year: 2020, month: 2, day: 29, hour: 0, minute: 0, second: 0)),
            (4_107_542_399, LocalTime(year: 2100, month: 2, day: 28, hour: 23, minute: 59, second: 59)),
            (4_107_542_400, LocalTime(year: 2100, month: 3, day: 1, hour: 0, minute: 0, second: 0)),
            (-2_203_891_200, LocalTime(year: 1900, month: 3, day: 1, hour: 0, minute: 0, second: 0)),
            (-86_400 * 365 - 1, LocalTime(year: 1968, month: 12, day: 31, hour: 23, minute: 59, second: 59)),
            (1_577_881_101, LocalTime(year: 2020, month: 1, day: 1, hour: 12, minute: 18, second: 21)),
        ]
        for (epoch, time) in cases {
            #expect(system.localTime(at: epoch) == time, "\(epoch)")
            #expect(UTC.epoch(of: time) == epoch && time.utcEpoch == epoch, "\(time)")
        }
        for epoch in stride(from: Int64(-5_000_000_000), through: 5_000_000_000, by: 7_777_777) {
            #expect(system.localTime(at: epoch).flatMap(UTC.epoch(of:)) == epoch)
            #expect(system.localTime(at: epoch)?.utcEpoch == epoch)
        }
    }
}
