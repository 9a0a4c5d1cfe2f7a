import Synchronization
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin

/// Errors the storage never names but a kernel gives, with glibc's texts (held to
/// strerror by ErrnoTests).
extension Errno {
    static let badDescriptor = Errno(rawValue: 9, description: "Bad file descriptor")
    static let busy = Errno(rawValue: 16, description: "Device or resource busy")
    static let illegalSeek = Errno(rawValue: 29, description: "Illegal seek")
    static let notEmpty = Errno(rawValue: 39, description: "Directory not empty")
    static let argumentListTooLong = Errno(rawValue: 7, description: "Argument list too long")
    static let outOfRange = Errno(rawValue: 34, description: "Numerical result out of range")
}

/// The proleptic Gregorian calendar in UTC, by arithmetic (Howard Hinnant's
/// days-from-civil): a time zone no test has to set with `setenv("TZ")`.
enum UTC {
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `localtime_r` in UTC; nil where glibc's `tm_year` (an int) cannot hold the year.
    static func localTime(at epoch: Int64) -> LocalTime? {
        let (days, seconds) = (epoch.floorDivided(by: 86400), epoch.floorModulo(86400))
        let date = civil(days: days)
        guard let year = Int32(exactly: date.year - 1900) else { return nil }
        return LocalTime(year: Int(year) + 1900, month: Int(date.month), day: Int(date.day),
                         hour: Int(seconds / 3600), minute: Int(seconds / 60 % 60), second: Int(seconds % 60))
    }

    /// `mktime` in UTC (the fields are in range: ``LocalTime/epoch(in:)`` checks them first).
    static func epoch(of time: LocalTime) -> Int64? {
        guard Int32(exactly: time.year - 1900) != nil else { return nil }
        let days = days(year: Int64(time.year), month: Int64(time.month), day: Int64(time.day))
        return days * 86400 + Int64(time.hour * 3600 + time.minute * 60 + time.second)
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        self >= 0 ? self / divisor : -((-self + divisor - 1) / divisor)
    }
    fileprivate func floorModulo(_ divisor: Int64) -> Int64 { self - floorDivided(by: divisor) * divisor }
}

/// A whole system in memory, for tests that need no real program and no kernel feature:
/// a tree of directories, regular files and symlinks with modes, times from its own
/// clock and inode identity; descriptors; a settable answer for programs; UTC.
///
/// Each call fails as Linux's would (errno semantics of LiveSystem's calls), as far as
/// the storage relies on them. Setup helpers (``create(_:directory:)``, ``write(_:_:)``,
/// ``symlink(_:to:)``) bypass the seam, so fault injection never sees them.
final class InMemorySystem: SystemCalls {
    typealias Program = @Sendable (Command) throws(Errno) -> CommandResult

    struct Node {
        var kind: FileKind
        var mode: UInt32
        var contents: [UInt8] = []
        var target: [UInt8] = []
        var entries: [[UInt8]: UInt64] = [:]
        var changeTime: Int64
        var modificationTime: Int64
        var immutable = false
        var links = 1
        /// Extended attributes (`user.*`): the inode's, so kept by a rename and a second
        /// link, and not copied by a clone (FICLONE shares data, not attributes).
        var attributes: [String: [UInt8]] = [:]
    }

    enum Opened {
        case file(inode: UInt64, writing: Bool, position: Int64)
        /// The read end of a pipe holding `bytes`, then end of file.
        case source(bytes: [UInt8], position: Int)
        /// The write end of a pipe whose reader keeps everything.
        case sink(bytes: [UInt8])
    }

    struct State {
        var nodes: [UInt64: Node] = [:]
        var nextInode: UInt64 = 2
        var descriptors: [Int32: Opened] = [:]
        var nonBlocking: Set<Int32> = []
        var nextDescriptor: Int32 = 1000
        var now: Int64
        var monotonic: Int64 = 1_000_000_000
        var umask: UInt32 = 0o022
        var usage = FileSystemUsage(total: 1 << 40, available: 1 << 39, used: 1 << 39)
        var cloneError: Errno? = .notSupported
        var punchHoleError: Errno? = nil
        var program: Program? = nil
        var random: UInt64 = 0x9E37_79B9_7F4A_7C15
    }

    static let root: UInt64 = 1
    /// Distinct devices for distinct systems, and distinct scratch directories: the
    /// storage's process-wide caches (reflink support) are keyed by path.
    private static let counter = Atomic<Int>(0)
    let device: UInt64
    let processID: Int32 = 4242
    private let state: Mutex<State>

    /// 2026-01-01 00:00:00 UTC.
    static let defaultTime: Int64 = 1_767_225_600

    init(now: Int64 = InMemorySystem.defaultTime) {
        device = UInt64(0x4D00 + Self.counter.add(1, ordering: .relaxed).newValue)
        var initial = State(now: now)
        initial.nodes[Self.root] = Node(kind: .directory, mode: 0o755, changeTime: now, modificationTime: now)
        state = Mutex(initial)
        // What the storage reads of the kernel: boot ID, its own start time, randomness.
        write("/proc/sys/kernel/random/boot_id", Array("0123abcd-0000-4000-8000-000000000000\n".utf8))
        write("/proc/\(processID)/stat", Array("\(processID) (swift-test) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n".utf8))
        symlink("/proc/self", to: "\(processID)")
        create("/dev", directory: true)
        state.withLock { state in
            let inode = Self.add(Node(kind: .characterDevice, mode: 0o666, changeTime: now, modificationTime: now), to: &state)
            state.nodes[Self.lookup("/dev", &state)!]!.entries[Array("urandom".utf8)] = inode
        }
    }

    // MARK: - Settings

    var now: Int64 {
        get { state.withLock { $0.now } }
        set { state.withLock { $0.now = newValue } }
    }
    var monotonic: Int64 {
        get { state.withLock { $0.monotonic } }
        set { state.withLock { $0.monotonic = newValue } }
    }
    var umask: UInt32 {
        get { state.withLock { $0.umask } }
        set { state.withLock { $0.umask = newValue } }
    }
    var usage: FileSystemUsage {
        get { state.withLock { $0.usage } }
        set { state.withLock { $0.usage = newValue } }
    }
    /// What FICLONE answers: EOPNOTSUPP (ext4, tmpfs) by default; nil clones by copying.
    var cloneError: Errno? {
        get { state.withLock { $0.cloneError } }
        set { state.withLock { $0.cloneError = newValue } }
    }
    /// What punching a hole answers: nil punches (tmpfs, ext4, XFS, btrfs); EOPNOTSUPP
    /// is a file system without it.
    var punchHoleError: Errno? {
        get { state.withLock { $0.punchHoleError } }
        set { state.withLock { $0.punchHoleError = newValue } }
    }
    /// Answers `run`; without one every program is missing (ENOENT, as posix_spawn says).
    var program: Program? {
        get { state.withLock { $0.program } }
        set { state.withLock { $0.program = newValue } }
    }

    // MARK: - Setup and inspection (not through the seam)

    /// A fresh directory no other system or test uses (like mkdtemp).
    func makeScratchDirectory() -> String {
        let path = "/memory/swiftplugin-test-\(Self.counter.add(1, ordering: .relaxed).newValue)"
        create(path, directory: true)
        return path
    }

    /// An empty file (or a directory), with any missing parents.
    func create(_ path: String, directory: Bool = false) {
        if directory { try! makeDirectories(path) } else { write(path, []) }
    }

    /// A file holding `bytes` (mode 0644), replacing what is there; parents are made.
    func write(_ path: String, _ bytes: [UInt8]) {
        try! makeDirectories(FilePath.parent(of: path))
        try! writeFile(path, contents: bytes, mode: 0o644, exclusive: false)
    }

    func write(_ path: String, _ text: String) { write(path, Array(text.utf8)) }

    /// A file whose name is raw bytes (not UTF-8) in the existing directory `directory`.
    func createFile(in directory: String, rawName: [UInt8]) {
        state.withLock { state in
            let now = state.now
            let inode = Self.add(Node(kind: .regular, mode: 0o644, changeTime: now, modificationTime: now), to: &state)
            state.nodes[Self.lookup(directory, &state)!]!.entries[rawName] = inode
        }
    }

    /// A symbolic link at `path` (parents made) holding `target`, as `ln -s`.
    func symlink(_ path: String, to target: String) {
        try! makeDirectories(FilePath.parent(of: path))
        state.withLock { state in
            let found = try! Self.locate(Array(path.utf8), following: false, &state)
            precondition(found.inode == nil, "\(path) exists")
            let now = state.now
            var node = Node(kind: .symlink, mode: 0o777, changeTime: now, modificationTime: now)
            node.target = Array(target.utf8)
            let inode = Self.add(node, to: &state)
            state.nodes[found.parent]!.entries[found.name] = inode
        }
    }

    /// The contents of a regular file, nil when there is none (symlinks are followed).
    func contents(_ path: String) -> [UInt8]? {
        state.withLock { state in
            guard let found = try? Self.locate(Array(path.utf8), following: true, &state), let inode = found.inode,
                  let node = state.nodes[inode], node.kind == .regular else { return nil }
            return node.contents
        }
    }

    /// The extended attributes of a file (a final symlink not followed); empty when it has none or is not there.
    func attributes(_ path: String) -> [String: [UInt8]] {
        state.withLock { state in
            guard let found = try? Self.locate(Array(path.utf8), following: false, &state), let inode = found.inode else { return [:] }
            return state.nodes[inode]?.attributes ?? [:]
        }
    }

    /// The names in a directory, sorted; empty when it is not there.
    func names(in path: String) -> [String] {
        ((try? listDirectory(path)) ?? []).map { $0.name ?? "?" }.sorted()
    }

    /// Every file under `root` as ``tree(_:modes:)`` describes files on disk: kind, size,
    /// permissions, link target, a digest of the contents; directories left out.
    func tree(_ root: String, modes: Bool = true) -> [String: String] {
        state.withLock { state in
            var entries: [String: String] = [:]
            guard let top = Self.lookup(root, &state) else { return entries }
            var pending: [(String, UInt64)] = [("", top)]
            while let (prefix, inode) = pending.popLast() {
                for (name, child) in state.nodes[inode]!.entries {
                    let relative = prefix + String(decoding: name, as: UTF8.self)
                    let node = state.nodes[child]!
                    switch node.kind {
                    case .directory: pending.append((relative + "/", child))
                    case .symlink: entries[relative] = "link \(String(decoding: node.target, as: UTF8.self))"
                    default:
                        let digest = Self.digest(node.contents)
                        let mode = modes ? String(node.mode, radix: 8) : ""
                        entries[relative] = "file \(mode) \(node.contents.count) \(String(digest, radix: 16))"
                    }
                }
            }
            return entries
        }
    }

    /// FNV-1a over every byte (a plain loop: tests are built without optimisation, and
    /// images are megabytes).
    static func digest(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBufferPointer { buffer in
            var digest: UInt64 = 0xcbf2_9ce4_8422_2325
            var index = 0
            while index < buffer.count {
                digest = (digest ^ UInt64(buffer[index])) &* 0x100_0000_01b3
                index += 1
            }
            return digest
        }
    }

    /// A descriptor reading `bytes` and then end of file, as the read end of a filled pipe.
    func stream(_ bytes: [UInt8]) -> Int32 { open(.source(bytes: bytes, position: 0)) }

    /// A descriptor that takes everything written to it, as a pipe to a patient reader.
    func sink() -> Int32 { open(.sink(bytes: [])) }

    /// What was written to a ``sink()``.
    func written(to descriptor: Int32) -> [UInt8] {
        state.withLock { state in
            guard case .sink(let bytes)? = state.descriptors[descriptor] else { return [] }
            return bytes
        }
    }

    /// Descriptors opened and not closed (leak checks).
    var openDescriptors: Int { state.withLock { $0.descriptors.count } }

    private func open(_ opened: Opened) -> Int32 {
        state.withLock { state in
            let descriptor = state.nextDescriptor
            state.nextDescriptor += 1
            state.descriptors[descriptor] = opened
            return descriptor
        }
    }

    // MARK: - Paths

    struct Located {
        var parent: UInt64
        /// Empty for the root.
        var name: [UInt8]
        var inode: UInt64?
        /// The directories walked to `parent`, from the root: realpath's answer.
        var chain: [[UInt8]]
    }

    private static func add(_ node: Node, to state: inout State) -> UInt64 {
        let inode = state.nextInode
        state.nextInode += 1
        state.nodes[inode] = node
        return inode
    }

    private static func lookup(_ path: String, _ state: inout State) -> UInt64? {
        (try? locate(Array(path.utf8), following: true, &state))?.inode
    }

    /// Walks `path` as the kernel does: repeated and trailing slashes ignored, `.` and
    /// `..`, symlinks followed (the last one only when `following`), at most 40 of them.
    /// A missing last component is found (inode nil) in its existing parent directory.
    static func locate(_ path: [UInt8], following: Bool, _ state: inout State) throws(Errno) -> Located {
        guard !path.isEmpty else { throw .noSuchFileOrDirectory }
        var stack: [(inode: UInt64, name: [UInt8])] = [(root, [])]
        var pending = Array(path.split(separator: UInt8(ascii: "/")).map(Array.init).reversed())
        var hops = 0
        while let component = pending.popLast() {
            let current = stack[stack.count - 1].inode
            guard state.nodes[current]!.kind == .directory else { throw .notDirectory }
            if component == [0x2E] { continue }
            if component == [0x2E, 0x2E] {
                if stack.count > 1 { stack.removeLast() }
                continue
            }
            let last = pending.isEmpty
            guard let child = state.nodes[current]!.entries[component] else {
                if last { return Located(parent: current, name: component, inode: nil, chain: stack.map(\.name)) }
                throw .noSuchFileOrDirectory
            }
            let node = state.nodes[child]!
            if node.kind == .symlink, !last || following {
                hops += 1
                guard hops <= 40 else { throw .tooManySymlinks }
                guard !node.target.isEmpty else { throw .noSuchFileOrDirectory }
                if node.target.first == UInt8(ascii: "/") { stack = [(root, [])] }
                pending += node.target.split(separator: UInt8(ascii: "/")).map(Array.init).reversed()
                continue
            }
            if last { return Located(parent: current, name: component, inode: child, chain: stack.map(\.name)) }
            stack.append((child, component))
        }
        // Ended on a directory: the root, `.`, `..` or a followed symlink to a directory.
        let top = stack.removeLast()
        return Located(parent: stack.last?.inode ?? root, name: top.name, inode: top.inode, chain: stack.map(\.name))
    }

    private func withState<T>(_ body: (inout State) throws(Errno) -> T) throws(Errno) -> T {
        try state.withLock { state throws(Errno) in try body(&state) }
    }

    private static func existing(_ path: String, following: Bool, _ state: inout State) throws(Errno) -> UInt64 {
        guard let inode = try locate(Array(path.utf8), following: following, &state).inode else { throw .noSuchFileOrDirectory }
        return inode
    }

    private static func fileStatus(_ inode: UInt64, device: UInt64, _ state: State) -> FileStatus {
        let node = state.nodes[inode]!
        let size: Int64 = switch node.kind {
        case .directory: 4096
        case .symlink: Int64(node.target.count)
        default: Int64(node.contents.count)
        }
        let allocated = node.kind == .regular ? (size + 4095) / 4096 * 4096 : (node.kind == .directory ? 4096 : 0)
        return FileStatus(kind: node.kind, size: size, mode: node.mode, changeTime: node.changeTime, allocatedBytes: allocated,
                          modificationTime: node.modificationTime, device: device, inode: inode)
    }

    /// A new entry `name` in `parent` is allowed (the parent not immutable); the parent's times change.
    private static func touchDirectory(_ parent: UInt64, _ state: inout State) throws(Errno) {
        guard !state.nodes[parent]!.immutable else { throw .operationNotPermitted }
        state.nodes[parent]!.changeTime = state.now
        state.nodes[parent]!.modificationTime = state.now
    }

    private static func unlinkNode(_ inode: UInt64, _ state: inout State) {
        state.nodes[inode]!.links -= 1
        state.nodes[inode]!.changeTime = state.now
        // Open descriptors keep a file; it is dropped when nothing names or holds it.
        let held = state.descriptors.values.contains { if case .file(inode, _, _) = $0 { true } else { false } }
        if state.nodes[inode]!.links <= 0 && !held { state.nodes[inode] = nil }
    }

    private func randomBytes(_ count: Int, _ state: inout State) -> [UInt8] {
        (0..<count).map { _ in
            // splitmix64: distinct names each call, the same sequence each run.
            state.random &+= 0x9E37_79B9_7F4A_7C15
            var z = state.random
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return UInt8(truncatingIfNeeded: z ^ (z >> 31))
        }
    }

    // MARK: - The process, the clocks and the time zone

    func currentTime() -> Int64 { now }
    func monotonicTime() -> Int64 { monotonic }
    func localTime(at epoch: Int64) -> LocalTime? { UTC.localTime(at: epoch) }

    // MARK: - Files

    func status(_ path: String, followSymlinks: Bool) throws(Errno) -> FileStatus {
        try withState { state throws(Errno) in
            Self.fileStatus(try Self.existing(path, following: followSymlinks, &state), device: device, state)
        }
    }

    func makeDirectory(_ path: String, mode: UInt32) throws(Errno) {
        try withState { state throws(Errno) in
            let found = try Self.locate(Array(path.utf8), following: false, &state)
            guard found.inode == nil else { throw .fileExists }
            try Self.touchDirectory(found.parent, &state)
            let inode = Self.add(Node(kind: .directory, mode: mode & ~state.umask & 0o7777, changeTime: state.now,
                                      modificationTime: state.now), to: &state)
            state.nodes[found.parent]!.entries[found.name] = inode
        }
    }

    func realPath(_ path: String) throws(Errno) -> String {
        try withState { state throws(Errno) in
            let found = try Self.locate(Array(path.utf8), following: true, &state)
            guard found.inode != nil else { throw .noSuchFileOrDirectory }
            let names = (found.chain + [found.name]).filter { !$0.isEmpty }
            return "/" + names.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
        }
    }

    func fileSystemUsage(_ path: String) throws(Errno) -> FileSystemUsage {
        try withState { state throws(Errno) in
            _ = try Self.existing(path, following: true, &state)
            return state.usage
        }
    }

    func readFile(_ path: String) throws(Errno) -> [UInt8] {
        try readBytes(path, offset: 0, count: Int.max)
    }

    /// Runs the body inline: there is no second process to hang.
    func probe(timeout seconds: Int, _ body: () -> [Int64]?) -> [Int64]? { body() }

    func listDirectory(_ path: String) throws(Errno) -> [DirectoryEntry] {
        try withState { state throws(Errno) in
            let node = state.nodes[try Self.existing(path, following: true, &state)]!
            guard node.kind == .directory else { throw .notDirectory }
            return node.entries.keys.map { DirectoryEntry(rawName: $0) }
        }
    }

    func readBytes(_ path: String, offset: Int64, count: Int) throws(Errno) -> [UInt8] {
        try withState { state throws(Errno) in
            let node = state.nodes[try Self.existing(path, following: true, &state)]!
            switch node.kind {
            case .directory: throw .isDirectory
            case .characterDevice: return randomBytes(count, &state)
            default: break
            }
            guard offset >= 0, count >= 0 else { throw .invalidArgument }
            guard offset < Int64(node.contents.count) else { return [] }
            let start = Int(offset)
            return Array(node.contents[start..<(start + min(count, node.contents.count - start))])
        }
    }

    func writeFile(_ path: String, contents: [UInt8], mode: UInt32, exclusive: Bool, applyingUmask: Bool) throws(Errno) {
        try withState { state throws(Errno) in
            // open(O_WRONLY | O_CREAT | O_NOFOLLOW | (O_EXCL or O_TRUNC)), write, then chmod unless the umask applies.
            let found = try Self.locate(Array(path.utf8), following: false, &state)
            let now = state.now
            if let inode = found.inode {
                if exclusive { throw .fileExists }
                switch state.nodes[inode]!.kind {
                case .symlink: throw .tooManySymlinks
                case .directory: throw .isDirectory
                default: break
                }
                guard !state.nodes[inode]!.immutable else { throw .operationNotPermitted }
                state.nodes[inode]!.contents = contents
                state.nodes[inode]!.modificationTime = now
                state.nodes[inode]!.changeTime = now
                if !applyingUmask { state.nodes[inode]!.mode = mode & 0o7777 }
                return
            }
            try Self.touchDirectory(found.parent, &state)
            var node = Node(kind: .regular, mode: (applyingUmask ? mode & ~state.umask : mode) & 0o7777, changeTime: now,
                            modificationTime: now)
            node.contents = contents
            state.nodes[found.parent]!.entries[found.name] = Self.add(node, to: &state)
        }
    }

    func rename(_ source: String, to target: String, replacing: Bool) throws(Errno) {
        try withState { state throws(Errno) in
            let from = try Self.locate(Array(source.utf8), following: false, &state)
            guard let moving = from.inode else { throw .noSuchFileOrDirectory }
            let to = try Self.locate(Array(target.utf8), following: false, &state)
            guard !from.name.isEmpty, !to.name.isEmpty else { throw .busy }
            let isDirectory = state.nodes[moving]!.kind == .directory
            if let replaced = to.inode {
                guard replacing else { throw .fileExists }
                // Two names of one file: rename does nothing.
                if replaced == moving { return }
                let other = state.nodes[replaced]!
                if isDirectory, other.kind != .directory { throw .notDirectory }
                if !isDirectory, other.kind == .directory { throw .isDirectory }
                if other.kind == .directory, !other.entries.isEmpty { throw .notEmpty }
                guard !other.immutable else { throw .operationNotPermitted }
            }
            // A directory cannot move below itself.
            if isDirectory, try Self.isBelow(to.parent, moving, &state) { throw .invalidArgument }
            guard !state.nodes[moving]!.immutable else { throw .operationNotPermitted }
            try Self.touchDirectory(from.parent, &state)
            try Self.touchDirectory(to.parent, &state)
            state.nodes[from.parent]!.entries[from.name] = nil
            if let replaced = to.inode { Self.unlinkNode(replaced, &state) }
            state.nodes[to.parent]!.entries[to.name] = moving
            state.nodes[moving]!.changeTime = state.now
        }
    }

    /// Whether `directory` is `ancestor` or inside it.
    private static func isBelow(_ directory: UInt64, _ ancestor: UInt64, _ state: inout State) throws(Errno) -> Bool {
        if directory == ancestor { return true }
        var pending = [ancestor]
        while let next = pending.popLast() {
            for child in state.nodes[next]!.entries.values where state.nodes[child]!.kind == .directory {
                if child == directory { return true }
                pending.append(child)
            }
        }
        return false
    }

    func removeFile(_ path: String) throws(Errno) {
        try withState { state throws(Errno) in
            let found = try Self.locate(Array(path.utf8), following: false, &state)
            guard let inode = found.inode else { throw .noSuchFileOrDirectory }
            guard state.nodes[inode]!.kind != .directory else { throw .isDirectory }
            guard !state.nodes[inode]!.immutable else { throw .operationNotPermitted }
            try Self.touchDirectory(found.parent, &state)
            state.nodes[found.parent]!.entries[found.name] = nil
            Self.unlinkNode(inode, &state)
        }
    }

    func removeDirectory(_ path: String) throws(Errno) {
        try withState { state throws(Errno) in
            let found = try Self.locate(Array(path.utf8), following: false, &state)
            guard let inode = found.inode else { throw .noSuchFileOrDirectory }
            guard !found.name.isEmpty else { throw .busy }
            let node = state.nodes[inode]!
            guard node.kind == .directory else { throw .notDirectory }
            guard node.entries.isEmpty else { throw .notEmpty }
            guard !node.immutable else { throw .operationNotPermitted }
            try Self.touchDirectory(found.parent, &state)
            state.nodes[found.parent]!.entries[found.name] = nil
            state.nodes[inode] = nil
        }
    }

    func removeTree(_ path: String) throws(Errno) {
        let top = try status(path, followSymlinks: false)
        guard top.kind == .directory else { return try removeFile(path) }
        // Depth first through the names, never following a symlink (lstat of each entry).
        for entry in try listDirectory(path) {
            let child = path + "/" + String(decoding: entry.rawName, as: UTF8.self)
            if entry.name == nil {
                try removeRawEntry(entry.rawName, in: path)
            } else if try status(child, followSymlinks: false).kind == .directory {
                try removeTree(child)
            } else {
                try removeFile(child)
            }
        }
        try removeDirectory(path)
    }

    /// Removes an entry whose name is not UTF-8 (a String path cannot name it), with what is below it.
    private func removeRawEntry(_ name: [UInt8], in directory: String) throws(Errno) {
        try withState { state throws(Errno) in
            let parent = try Self.existing(directory, following: false, &state)
            guard let inode = state.nodes[parent]!.entries[name] else { return }
            var pending = [inode]
            var all: [UInt64] = []
            while let next = pending.popLast() {
                guard !state.nodes[next]!.immutable else { throw .operationNotPermitted }
                all.append(next)
                if state.nodes[next]!.kind == .directory { pending += state.nodes[next]!.entries.values }
            }
            try Self.touchDirectory(parent, &state)
            state.nodes[parent]!.entries[name] = nil
            for node in all { Self.unlinkNode(node, &state) }
        }
    }

    func setMode(_ path: String, _ mode: UInt32) throws(Errno) {
        try withState { state throws(Errno) in
            let inode = try Self.existing(path, following: true, &state)
            guard !state.nodes[inode]!.immutable else { throw .operationNotPermitted }
            state.nodes[inode]!.mode = mode & 0o7777
            state.nodes[inode]!.changeTime = state.now
        }
    }

    func setImmutable(_ path: String, _ immutable: Bool) throws(Errno) {
        try withState { state throws(Errno) in
            // open(O_NOFOLLOW) of a symlink fails with ELOOP before the ioctl.
            let inode = try Self.existing(path, following: false, &state)
            guard state.nodes[inode]!.kind != .symlink else { throw .tooManySymlinks }
            guard state.nodes[inode]!.immutable != immutable else { return }
            state.nodes[inode]!.immutable = immutable
            state.nodes[inode]!.changeTime = state.now
        }
    }

    func run(_ command: Command) throws(Errno) -> CommandResult {
        // Outside the lock: a program may change the files.
        guard let program else { throw .noSuchFileOrDirectory }
        return try program(command)
    }

    func cloneFile(_ source: String, into target: String) throws(Errno) {
        try withState { state throws(Errno) in
            let from = try Self.existing(source, following: false, &state)
            guard state.nodes[from]!.kind != .symlink else { throw .tooManySymlinks }
            let to = try Self.existing(target, following: false, &state)
            switch state.nodes[to]!.kind {
            case .symlink: throw .tooManySymlinks
            case .directory: throw .isDirectory
            default: break
            }
            guard !state.nodes[to]!.immutable else { throw .operationNotPermitted }
            if let error = state.cloneError { throw error }
            guard state.nodes[from]!.kind == .regular else { throw .isDirectory }
            state.nodes[to]!.contents = state.nodes[from]!.contents
            state.nodes[to]!.modificationTime = state.now
            state.nodes[to]!.changeTime = state.now
        }
    }

    func link(_ source: String, to target: String) throws(Errno) {
        try withState { state throws(Errno) in
            let inode = try Self.existing(source, following: false, &state)
            let to = try Self.locate(Array(target.utf8), following: false, &state)
            guard to.inode == nil else { throw .fileExists }
            guard state.nodes[inode]!.kind != .directory else { throw .operationNotPermitted }
            guard !state.nodes[inode]!.immutable else { throw .operationNotPermitted }
            try Self.touchDirectory(to.parent, &state)
            state.nodes[to.parent]!.entries[to.name] = inode
            state.nodes[inode]!.links += 1
            state.nodes[inode]!.changeTime = state.now
        }
    }

    // MARK: - Streams

    func openFile(_ path: String, writing: Bool) throws(Errno) -> Int32 {
        let inode = try withState { state throws(Errno) in
            let inode = try Self.existing(path, following: false, &state)
            let node = state.nodes[inode]!
            if node.kind == .symlink { throw .tooManySymlinks }
            if writing, node.kind == .directory { throw .isDirectory }
            if writing, node.immutable { throw .operationNotPermitted }
            return inode
        }
        return open(.file(inode: inode, writing: writing, position: 0))
    }

    func closeFile(_ descriptor: Int32) {
        state.withLock { state in
            guard case .file(let inode, _, _)? = state.descriptors.removeValue(forKey: descriptor) else { return }
            state.nonBlocking.remove(descriptor)
            if let node = state.nodes[inode], node.links <= 0 {
                let held = state.descriptors.values.contains { if case .file(inode, _, _) = $0 { true } else { false } }
                if !held { state.nodes[inode] = nil }
            }
        }
    }

    func readDescriptor(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64?) throws(Errno) -> Int {
        try withState { state throws(Errno) in
            switch state.descriptors[descriptor] {
            case .file(let inode, let writing, let position)?:
                guard !writing else { throw .badDescriptor }
                let node = state.nodes[inode]!
                guard node.kind != .directory else { throw .isDirectory }
                let start = offset ?? position
                guard start >= 0 else { throw .invalidArgument }
                let count = start >= Int64(node.contents.count) ? 0 : min(buffer.count, node.contents.count - Int(start))
                if count > 0 {
                    node.contents.withUnsafeBytes { bytes in
                        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[Int(start)..<(Int(start) + count)]))
                    }
                }
                if offset == nil { state.descriptors[descriptor] = .file(inode: inode, writing: writing, position: start + Int64(count)) }
                return count
            case .source(let bytes, let position)?:
                guard offset == nil else { throw .illegalSeek }
                let count = min(buffer.count, bytes.count - position)
                if count > 0 {
                    bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[position..<(position + count)])) }
                }
                state.descriptors[descriptor] = .source(bytes: bytes, position: position + count)
                return count
            case .sink?, nil:
                throw .badDescriptor
            }
        }
    }

    func writeDescriptor(_ descriptor: Int32, from buffer: UnsafeRawBufferPointer, at offset: Int64?) throws(Errno) -> Int {
        try withState { state throws(Errno) in
            switch state.descriptors[descriptor] {
            case .file(let inode, let writing, let position)?:
                guard writing else { throw .badDescriptor }
                let start = offset ?? position
                guard start >= 0 else { throw .invalidArgument }
                Self.store(Array(buffer), at: start, in: inode, &state)
                if offset == nil { state.descriptors[descriptor] = .file(inode: inode, writing: writing, position: start + Int64(buffer.count)) }
                return buffer.count
            case .sink(var bytes)?:
                guard offset == nil else { throw .illegalSeek }
                bytes += Array(buffer)
                state.descriptors[descriptor] = .sink(bytes: bytes)
                return buffer.count
            case .source?, nil:
                throw .badDescriptor
            }
        }
    }

    private static func store(_ bytes: [UInt8], at offset: Int64, in inode: UInt64, _ state: inout State) {
        let end = Int(offset) + bytes.count
        if state.nodes[inode]!.contents.count < end {
            state.nodes[inode]!.contents += [UInt8](repeating: 0, count: end - state.nodes[inode]!.contents.count)
        }
        state.nodes[inode]!.contents.replaceSubrange(Int(offset)..<end, with: bytes)
        state.nodes[inode]!.modificationTime = state.now
        state.nodes[inode]!.changeTime = state.now
    }

    /// The whole file is data: no holes but the one at its end.
    func seek(_ descriptor: Int32, from offset: Int64, hole: Bool) throws(Errno) -> Int64? {
        try withState { state throws(Errno) in
            guard case .file(let inode, _, _)? = state.descriptors[descriptor] else {
                throw state.descriptors[descriptor] == nil ? .badDescriptor : .illegalSeek
            }
            let size = Int64(state.nodes[inode]!.contents.count)
            guard offset >= 0 else { throw .invalidArgument }
            guard offset < size else { return nil }
            return hole ? size : offset
        }
    }

    func sendFile(from source: Int32, at offset: Int64, to target: Int32, count: Int) throws(Errno) -> Int {
        let bytes = try withState { state throws(Errno) in
            guard case .file(let inode, false, _)? = state.descriptors[source] else { throw .badDescriptor }
            let contents = state.nodes[inode]!.contents
            guard state.nodes[inode]!.kind == .regular else { throw .invalidArgument }
            guard offset >= 0 else { throw .invalidArgument }
            guard offset < Int64(contents.count) else { return [UInt8]() }
            let start = Int(offset)
            return Array(contents[start..<(start + min(count, contents.count - start))])
        }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        defer { copy.deallocate() }
        copy.copyBytes(from: bytes)
        return try writeDescriptor(target, from: UnsafeRawBufferPointer(copy), at: nil)
    }

    func truncate(_ descriptor: Int32, to size: Int64) throws(Errno) {
        try withState { state throws(Errno) in
            guard let opened = state.descriptors[descriptor] else { throw .badDescriptor }
            guard case .file(let inode, true, _) = opened, size >= 0 else { throw .invalidArgument }
            let count = Int(size)
            var contents = state.nodes[inode]!.contents
            if contents.count > count { contents.removeLast(contents.count - count) } else {
                contents += [UInt8](repeating: 0, count: count - contents.count)
            }
            state.nodes[inode]!.contents = contents
            state.nodes[inode]!.modificationTime = state.now
            state.nodes[inode]!.changeTime = state.now
        }
    }

    func synchronize(_ descriptor: Int32) throws(Errno) {
        try withState { state throws(Errno) in
            guard state.descriptors[descriptor] != nil else { throw .badDescriptor }
        }
    }

    func status(of descriptor: Int32) throws(Errno) -> FileStatus {
        try withState { state throws(Errno) in
            switch state.descriptors[descriptor] {
            case .file(let inode, _, _)?: return Self.fileStatus(inode, device: device, state)
            case .source?, .sink?: return FileStatus(kind: .other, size: 0, mode: 0o600)
            case nil: throw .badDescriptor
            }
        }
    }

    func holdStreamSignals() -> any StreamSignals { NoStreamSignals() }

    func waitReady(_ descriptor: Int32, writing: Bool, signals: any StreamSignals) throws(Errno) -> Int32? { nil }

    func setNonBlocking(_ descriptor: Int32, _ nonBlocking: Bool) throws(Errno) -> Bool {
        try withState { state throws(Errno) in
            guard state.descriptors[descriptor] != nil else { throw .badDescriptor }
            let was = state.nonBlocking.contains(descriptor)
            if nonBlocking { state.nonBlocking.insert(descriptor) } else { state.nonBlocking.remove(descriptor) }
            return was
        }
    }

    // MARK: - Replication: extended attributes and holes (no extent maps: FIEMAP stays EOPNOTSUPP)

    /// The `user.` namespace only (another is EOPNOTSUPP here), as lgetxattr/lsetxattr
    /// treat it: a symlink or device has no user attributes (reading finds none, setting
    /// is EPERM); values up to 64 KiB.
    private static func userAttribute(_ name: String) throws(Errno) {
        guard !name.isEmpty else { throw .outOfRange }
        guard name.hasPrefix("user."), name.utf8.count > 5, name.utf8.count <= 255 else { throw .notSupported }
    }

    func extendedAttribute(_ name: String, of path: String) throws(Errno) -> [UInt8]? {
        try withState { state throws(Errno) in
            let inode = try Self.existing(path, following: false, &state)
            try Self.userAttribute(name)
            let node = state.nodes[inode]!
            guard node.kind == .regular || node.kind == .directory else { return nil }
            return node.attributes[name]
        }
    }

    func setExtendedAttribute(_ name: String, of path: String, to value: [UInt8]) throws(Errno) {
        try withState { state throws(Errno) in
            let inode = try Self.existing(path, following: false, &state)
            try Self.userAttribute(name)
            let node = state.nodes[inode]!
            guard node.kind == .regular || node.kind == .directory else { throw .operationNotPermitted }
            guard !node.immutable else { throw .operationNotPermitted }
            guard value.count <= 65536 else { throw .argumentListTooLong }
            state.nodes[inode]!.attributes[name] = value
            state.nodes[inode]!.changeTime = state.now
        }
    }

    /// FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE: the range within the file reads as
    /// zeros, the size stays; a descriptor not open for writing is EBADF.
    func punchHole(_ descriptor: Int32, at offset: Int64, count: Int64) throws(Errno) {
        try withState { state throws(Errno) in
            guard let opened = state.descriptors[descriptor] else { throw .badDescriptor }
            guard case .file(let inode, let writing, _) = opened else { throw .illegalSeek }
            guard writing else { throw .badDescriptor }
            guard offset >= 0, count > 0, !offset.addingReportingOverflow(count).overflow else { throw .invalidArgument }
            guard state.nodes[inode]!.kind == .regular else { throw .notSupported }
            guard !state.nodes[inode]!.immutable else { throw .operationNotPermitted }
            if let error = state.punchHoleError { throw error }
            let size = Int64(state.nodes[inode]!.contents.count)
            let end = min(offset + count, size)
            guard offset < end else { return }
            state.nodes[inode]!.contents.replaceSubrange(Int(offset)..<Int(end), with: repeatElement(0, count: Int(end - offset)))
            state.nodes[inode]!.modificationTime = state.now
            state.nodes[inode]!.changeTime = state.now
        }
    }
}

/// A scratch directory in an ``InMemorySystem``: what ``TemporaryDirectory`` is on disk.
struct MemoryDirectory {
    let system: InMemorySystem
    let path: String

    init(_ system: InMemorySystem = InMemorySystem()) {
        self.system = system
        path = system.makeScratchDirectory()
    }

    func create(_ relative: String, directory: Bool = false) { system.create(path + "/" + relative, directory: directory) }
    func write(_ relative: String, _ text: String) { system.write(path + "/" + relative, text) }
    func write(_ relative: String, _ bytes: [UInt8]) { system.write(path + "/" + relative, bytes) }
    func symlink(_ relative: String, to target: String) { system.symlink(path + "/" + relative, to: target) }
    func isDirectory(_ relative: String) -> Bool { system.isDirectory(path + "/" + relative) }
    func exists(_ relative: String) -> Bool { system.exists(path + "/" + relative) }
    func contents(_ relative: String) -> [UInt8]? { system.contents(path + "/" + relative) }
    func names(in relative: String) -> [String] { system.names(in: path + "/" + relative) }
}

extension InMemorySystem {
    /// qemu-img for raw images, as far as the storage runs it on them: `create` and
    /// `resize` make the file that size (zeros; created with the umask, as a program
    /// creates files). Any other command or format exits 1 saying so, so that a test
    /// relying on more fails instead of passing on a fiction.
    func simulateRawQemuImg() {
        program = { [unowned self] command throws(Errno) -> CommandResult in
            guard command.executable == QemuImg.executable else { throw .noSuchFileOrDirectory }
            var positional: [String] = []
            var format: String?
            var arguments = command.arguments[...]
            let verb = arguments.popFirst()
            while let argument = arguments.popFirst() {
                switch argument {
                case "-f": format = arguments.popFirst()
                case "-o", "-F", "-b": _ = arguments.popFirst()
                case _ where argument.hasPrefix("-"): continue
                default: positional.append(argument)
                }
            }
            guard verb == "create" || verb == "resize", format == "raw", positional.count == 2,
                  let size = Self.bytes(positional[1]) else {
                return CommandResult(exitStatus: 1, errorOutput: Array("simulated qemu-img: not simulated: \(command.description)\n".utf8))
            }
            do {
                try self.setSize(positional[0], size, creating: verb == "create")
            } catch {
                return CommandResult(exitStatus: 1, errorOutput: Array("qemu-img: \(positional[0]): \(error)\n".utf8))
            }
            return CommandResult(exitStatus: 0)
        }
    }

    /// "1024K", "2097152": qemu-img's sizes (suffixes K, M, G, T).
    private static func bytes(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        guard let last = text.last else { return nil }
        if let unit = units[last] { return Int(text.dropLast()).map { $0 * unit } }
        return Int(text)
    }

    private func setSize(_ path: String, _ size: Int, creating: Bool) throws(Errno) {
        if creating, isGone(path) {
            try writeFile(path, contents: [], mode: 0o644, exclusive: true, applyingUmask: true)
        }
        let descriptor = try openFile(path, writing: true)
        defer { closeFile(descriptor) }
        if creating { try truncate(descriptor, to: 0) }
        try truncate(descriptor, to: Int64(size))
    }
}
