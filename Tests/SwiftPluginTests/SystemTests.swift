import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

@Suite("the live system seam")
struct SystemTests {
    let system = LiveSystem()

    @Test("directory listings keep names that are not UTF-8, without . and ..")
    func listing() throws {
        let directory = TemporaryDirectory()
        directory.create("plain.raw")
        directory.create("sub", directory: true)
        let hostile = directory.path + "/bad-\u{FFFD}"
        _ = hostile
        let rawPath = Array((directory.path + "/bad-").utf8) + [0xff, 0]
        let descriptor = rawPath.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        #expect(descriptor >= 0)
        close(descriptor)
        let entries = try system.listDirectory(directory.path)
        #expect(Set(entries.compactMap(\.name)) == ["plain.raw", "sub"])
        #expect(entries.contains { $0.name == nil && $0.rawName == Array("bad-".utf8) + [0xff] })
    }

    /// A fresh directory on disk or in memory (and what keeps it): the seam's semantics
    /// hold for both systems, the in-memory one held to the kernel's.
    static func scratch(inMemory: Bool) -> (path: String, system: any SystemCalls, keep: AnyObject?) {
        if inMemory {
            let directory = MemoryDirectory()
            return (directory.path, directory.system, nil)
        }
        let directory = TemporaryDirectory()
        return (directory.path, LiveSystem(), directory)
    }

    @Test("rename without replacing refuses an existing target, also the source itself", arguments: [false, true])
    func noReplace(inMemory: Bool) throws {
        let (root, system, keep) = Self.scratch(inMemory: inMemory)
        defer { withExtendedLifetime(keep) {} }
        for name in ["a", "b"] { try system.writeFile(root + "/" + name, contents: [], mode: 0o644, exclusive: true) }
        #expect(throws: Errno.fileExists) { try system.rename(root + "/a", to: root + "/b", replacing: false) }
        try system.rename(root + "/a", to: root + "/c", replacing: false)
        #expect(system.exists(root + "/c") && !system.exists(root + "/a"))
        // Onto itself: refused, and the only name stays (files and directories).
        try system.makeDirectory(root + "/d", mode: 0o755)
        for name in ["c", "d"] {
            #expect(throws: Errno.fileExists) { try system.rename(root + "/" + name, to: root + "/" + name, replacing: false) }
            #expect(system.exists(root + "/" + name))
        }
    }

    @Test("files are written with the exact mode; exclusive creation refuses an existing file", arguments: [false, true])
    func writing(inMemory: Bool) throws {
        let (root, system, keep) = Self.scratch(inMemory: inMemory)
        defer { withExtendedLifetime(keep) {} }
        let path = root + "/notes"
        try system.writeFile(path, contents: Array("hello".utf8), mode: 0o644, exclusive: true)
        #expect(try system.readBytes(path, offset: 1, count: 100) == Array("ello".utf8))
        #expect(try system.status(path, followSymlinks: false).mode == 0o644)
        #expect(throws: Errno.fileExists) { try system.writeFile(path, contents: [], mode: 0o644, exclusive: true) }
        try system.writeFileAtomically(path, contents: Array("new".utf8), mode: 0o600)
        #expect(try system.readFile(path) == Array("new".utf8))
        #expect(throws: AtomicWriteFailure.publishing(.fileExists)) {
            try system.writeFileAtomically(path, contents: Array("other".utf8), mode: 0o600, replacing: false)
        }
        #expect(try system.readFile(path) == Array("new".utf8))
        #expect(try system.listDirectory(root).compactMap(\.name) == ["notes"], "no temporary file left")
    }

    @Test("removing a tree does not follow a symlink out of it")
    func removeTree() throws {
        let directory = TemporaryDirectory()
        directory.create("outside/keep")
        directory.create("tree/a/b")
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/tree/link", withDestinationPath: directory.path + "/outside")
        try system.removeTree(directory.path + "/tree")
        #expect(!system.exists(directory.path + "/tree"))
        #expect(system.exists(directory.path + "/outside/keep"))
    }

    @Test("removing a tree works on names that are not UTF-8 and on trees deeper than PATH_MAX")
    func removeTreeRawNamesAndDepth() throws {
        let directory = TemporaryDirectory()
        let script = """
            mkdir tree && cd tree && printf x > "$(printf 'caf\\351')" && mkdir "$(printf 'd\\377ir')" \
              && printf y > "$(printf 'd\\377ir/\\376')" && ln -s ../outside "$(printf 'l\\351nk')" \
              && chmod 000 "$(printf 'd\\377ir')" && chmod 700 "$(printf 'd\\377ir')" || exit 1
            mkdir d && printf deep > "d/$(printf 'f\\351')" || exit 1
            i=0; while [ $i -lt 300 ]; do mkdir t && mv d t/aaaaaaaaaaaaaaaaaaaa && mv t d || exit 1; i=$((i+1)); done
            """
        directory.create("outside/keep")
        let made = try system.run(Command("/bin/sh", ["-c", "cd \"$1\" && " + script, "sh", directory.path], timeout: 30))
        #expect(made.exitStatus == 0, "\(made.errorText)")
        try system.removeTree(directory.path + "/tree")
        #expect(system.isGone(directory.path + "/tree"))
        #expect(system.exists(directory.path + "/outside/keep"))
        // A symlink given as the tree: the link goes, its target stays.
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/link", withDestinationPath: directory.path + "/outside")
        try system.removeTree(directory.path + "/link")
        #expect(system.isGone(directory.path + "/link") && system.exists(directory.path + "/outside/keep"))
    }

    @Test("programs run with an argument vector, a fixed environment and their output")
    func run() throws {
        let result = try system.run(Command("/bin/sh", ["-c", "printf '%s' \"$1\"; echo err >&2; env | sort; exit 3", "sh", "a b;c"], timeout: 5))
        #expect(result.exitStatus == 3 && !result.timedOut)
        #expect(String(decoding: result.output, as: UTF8.self) == "a b;cLC_ALL=C\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\nPWD=" + FileManager.default.currentDirectoryPath + "\n")
        #expect(result.errorText == "err")
    }

    @Test("a program past its timeout is killed")
    func timeout() throws {
        let started = Date()
        let result = try system.run(Command("/bin/sleep", ["30"], timeout: 1))
        #expect(result.timedOut && !result.succeeded && result.signal == SIGKILL)
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test("a missing program is an error, not a crash")
    func missingProgram() {
        #expect(throws: Errno.noSuchFileOrDirectory) { try system.run(Command("/nonexistent/qemu-img", [], timeout: 1)) }
    }
}

@Suite("the test double of stat, for the vectors' mocks")
struct OverrideTests {
    @Test("the mocks replace size, allocation and ctime of files; directories keep their size")
    func overriding() throws {
        let directory = MemoryDirectory()
        directory.create("file")
        let overrides = try #require(MetadataOverrides(perl: ["stat_size": 131072, "stat_ctime": 1234567890, "image_actual_size": 5]))
        #expect(overrides == MetadataOverrides(fileSize: 131072, changeTime: 1234567890, allocatedSize: 5))
        let system = OverridingSystem(base: directory.system, overrides: overrides)
        let file = try system.status(directory.path + "/file", followSymlinks: true)
        #expect(file.size == 131072 && file.changeTime == 1234567890 && file.allocatedBytes == 5)
        let folder = try system.status(directory.path, followSymlinks: true)
        #expect(folder.size != 131072 && folder.changeTime == 1234567890)
        #expect(MetadataOverrides(perl: .undef) == nil && MetadataOverrides(perl: [:]) == nil)
    }
}

@Suite("errors of system calls")
struct ErrnoTests {
    @Test("the named errors have the C library's numbers and texts")
    func namedErrors() {
        let numbers: [Int32] = [EPERM, ENOENT, ESRCH, EINTR, EIO, EAGAIN, EACCES, EEXIST, EXDEV, ENOTDIR, EISDIR, EINVAL,
                                ENOTTY, ENOSPC, EROFS, EMLINK, ENOSYS, ELOOP, EOPNOTSUPP, ETIMEDOUT]
        #expect(Errno.named.map(\.rawValue) == numbers)
        for error in Errno.named {
            #expect(error.description == String(cString: strerror(error.rawValue)))
        }
        // And those only the in-memory system gives.
        let doubles: [(Errno, Int32)] = [(.badDescriptor, EBADF), (.busy, EBUSY), (.illegalSeek, ESPIPE), (.notEmpty, ENOTEMPTY),
                                         (.argumentListTooLong, E2BIG), (.outOfRange, ERANGE)]
        for (error, number) in doubles {
            #expect(error.rawValue == number && error.description == String(cString: strerror(number)))
        }
    }

    @Test("the live system reports the C library's text, and errors compare by number")
    func liveErrors() {
        #expect(throws: Errno.noSuchFileOrDirectory) { try LiveSystem().status("/nonexistent/x", followSymlinks: true) }
        do { _ = try LiveSystem().readFile("/nonexistent/x") } catch {
            #expect(error.description == "No such file or directory")
        }
        #expect(Errno(rawValue: 2, description: "other text") == .noSuchFileOrDirectory)
    }
}
