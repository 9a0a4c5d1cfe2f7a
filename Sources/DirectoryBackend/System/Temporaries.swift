import PVEStorage

/// Hidden temporary files: the half-written state of a new volume, notes file or
/// storage identity, in the directory of the final file (the rename that publishes it
/// stays on one file system).
///
/// A temporary is `.tmp.<boot>.<pid>.<start>.<random>`:
/// - `<random>` (64 bits from /dev/urandom) makes the name unpredictable, and the file
///   is created with O_CREAT|O_EXCL|O_NOFOLLOW before anything (qemu-img) writes to it,
///   so nothing planted at the name beforehand can redirect the write;
/// - `<boot>.<pid>.<start>` name the owner: the first 8 hex digits of the kernel's boot
///   ID (mixed with the PID namespace in a container, see ``bootID(_:)``), the process ID and the process's start time (clock ticks since boot, field 22
///   of /proc/<pid>/stat). A process is identified by its pid *and* start time, so a
///   reused pid is told apart from the owner;
/// - the name has a fixed short length (at most 62 bytes), so any valid final name,
///   up to the file system's 255 bytes, has a valid temporary.
///
/// A temporary is stale, and reclaimed by a later allocation or activation, when its
/// owner ran on this boot of this node (and PID namespace) and is gone (no /proc/<pid>/stat, or one with
/// another start time); or, whoever made it (another node of a shared storage, an
/// earlier boot, the older `.tmp.<name>.<pid>` scheme), when it was last written more
/// than ``maximumAge`` ago: no operation that writes a temporary runs that long
/// (qemu-img is killed at its 6-hour deadline).
public enum Temporaries {
    public static let prefix = ".tmp."
    /// Hidden directories a container import unpacks into: `.tmp-subvol.<boot>.<pid>.<start>.<random>`.
    public static let directoryPrefix = ".tmp-subvol."

    /// A fresh name for an import directory of this process.
    static func newDirectoryName(_ system: any SystemCalls) throws(Errno) -> String {
        directoryPrefix + (try newName(system)).dropFirst(prefix.count)
    }
    /// Longer than the longest operation writing a temporary (``QemuImg/createTimeout``) plus a margin.
    public static let maximumAge: Int64 = Int64(QemuImg.createTimeout) + 3600

    /// The owner of temporaries: a process on one boot of one node.
    public struct Owner: Equatable, Sendable {
        public var boot: String
        public var pid: Int32
        public var start: UInt64
    }

    /// This process as an owner; nil when /proc cannot tell (temporaries are then named
    /// with an unknown owner and only reclaimed by age).
    static func currentOwner(_ system: any SystemCalls) -> Owner? {
        guard let boot = bootID(system), let start = startTime(of: "self", system) else { return nil }
        return Owner(boot: boot, pid: system.processID, start: start)
    }

    /// The PID namespace of the host (the kernel's PROC_PID_INIT_INO).
    static let hostPIDNamespace: UInt64 = 0xEFFF_FFFC

    /// Where the owner's processes can be seen: the first 32 bits of the kernel's boot
    /// ID, mixed with the process's PID namespace when that is not the host's. Nodes in
    /// containers share a kernel (and its boot ID) but not their processes: one must
    /// not take another's live temporary for one of its own whose owner is gone.
    static func bootID(_ system: any SystemCalls) -> String? {
        guard let text = try? system.readFile("/proc/sys/kernel/random/boot_id") else { return nil }
        let hex = text.filter { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        guard hex.count >= 8, var boot = UInt32(String(decoding: hex.prefix(8), as: UTF8.self), radix: 16) else { return nil }
        if let namespace = try? system.status("/proc/self/ns/pid", followSymlinks: true).inode {
            boot ^= UInt32(truncatingIfNeeded: namespace ^ hostPIDNamespace)
        }
        let digits = String(boot, radix: 16)
        return String(repeating: "0", count: 8 - digits.utf8.count) + digits
    }

    /// Field 22 (starttime) of /proc/<process>/stat; nil when the process does not exist
    /// or the file cannot be read. Throws only for "no such process".
    static func startTime(of process: String, _ system: any SystemCalls) -> UInt64? {
        try? processStartTime(process, system)
    }

    /// The start time, nil when it cannot be read; throws ENOENT when the process is gone.
    static func processStartTime(_ process: String, _ system: any SystemCalls) throws(Errno) -> UInt64? {
        let stat: [UInt8]
        do { stat = try system.readFile("/proc/\(process)/stat") } catch {
            if error == .noSuchFileOrDirectory || error == .noSuchProcess { throw error }
            return nil
        }
        // The command name (field 2) is in parentheses and may contain anything: count after the last ')'.
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
        // Fields after the name start at 3 (state); starttime is field 22.
        guard fields.count > 19 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }

    /// A fresh temporary name for this process.
    static func newName(_ system: any SystemCalls) throws(Errno) -> String {
        let random = try system.readBytes("/dev/urandom", offset: 0, count: 8)
        guard random.count == 8 else { throw Errno.ioError }
        let hex = random.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
        let owner = currentOwner(system)
        let boot = owner?.boot ?? "unknown"
        return "\(prefix)\(boot).\(system.processID).\(owner?.start ?? 0).\(hex)"
    }

    /// The owner a temporary's name records; nil for other names (older schemes, unknown owners).
    static func owner(of name: String) -> Owner? {
        guard name.hasPrefix(prefix) else { return nil }
        let fields = name.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 4, fields[0].utf8.count == 8, fields[3].utf8.count == 16,
              let pid = Int32(fields[1]), pid > 0, let start = UInt64(fields[2]), start > 0 else { return nil }
        return Owner(boot: String(fields[0]), pid: pid, start: start)
    }

    /// Whether `name` is a temporary of this plugin, in this scheme or an older one:
    /// `.tmp.<image>.<pid>` (images), `<archive>.notes.tmp.<pid>` (notes) and
    /// `.tmp..swiftplugin-identity.<pid>` (the storage identity). Nothing else is ever reclaimed.
    static func isTemporary(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if name.hasPrefix(prefix) {
            let fields = parts.dropFirst(2)
            if fields.count == 4, fields.allSatisfy({ !$0.isEmpty }), isDigits(fields[fields.startIndex + 1]),
               isDigits(fields[fields.startIndex + 2]), fields.last?.utf8.count == 16 {
                return true
            }
        }
        guard parts.count >= 4, let pid = parts.last, isDigits(pid) else { return false }
        let body = parts.dropLast()
        if name.hasPrefix(prefix), body.count >= 4, ImageExtensions.format(Array(body.joined(separator: ".").utf8)) != nil {
            return true
        }
        return body.suffix(2).elementsEqual(["notes", "tmp"]) && body.count >= 3
            || name == "\(prefix).swiftplugin-identity.\(pid)"
    }

    private static func isDigits(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }
}

extension SystemCalls {
    /// Creates a new temporary file in `directory` holding `contents` (exclusively, never
    /// through a symlink) and returns its path. Its mode is `mode`, less the umask when
    /// `applyingUmask` (for a file a program fills as if it had created it).
    public func createTemporaryFile(in directory: String, contents: [UInt8] = [], mode: UInt32,
                                    applyingUmask: Bool = false) throws(Errno) -> String {
        var attempts = 0
        while true {
            let path = directory + "/" + (try Temporaries.newName(self))
            do {
                try writeFile(path, contents: contents, mode: mode, exclusive: true, applyingUmask: applyingUmask)
                return path
            } catch {
                attempts += 1
                // A clash of 64 random bits is a planted file or a broken random source.
                if error != .fileExists || attempts >= 4 { throw error }
            }
        }
    }

    /// Removes the stale temporaries in `directory` (see ``Temporaries``): files and
    /// symlinks, never following a link, and the hidden directories of container
    /// imports; nothing else is touched. Best effort.
    public func reclaimStaleTemporaries(in directory: String) {
        guard let entries = try? listDirectory(directory) else { return }
        let names = entries.compactMap(\.name)
        reclaimStaleImportDirectories(in: directory, names)
        let candidates = names.filter(Temporaries.isTemporary)
        guard !candidates.isEmpty else { return }
        let me = Temporaries.currentOwner(self)
        let now = currentTime()
        for name in candidates {
            let path = directory + "/" + name
            guard let info = try? status(path, followSymlinks: false), info.kind == .regular || info.kind == .symlink else { continue }
            if isStale(name, info, me: me, now: now) { try? removeFile(path) }
        }
    }

    /// Removes the hidden directories (``Temporaries/directoryPrefix``) of container
    /// imports whose owner is gone, as a tree, never following a link. Other hidden
    /// directories are never touched.
    func reclaimStaleImportDirectories(in directory: String, _ names: [String]) {
        let me = Temporaries.currentOwner(self)
        let now = currentTime()
        for name in names where name.hasPrefix(Temporaries.directoryPrefix) {
            let scheme = Temporaries.prefix + name.dropFirst(Temporaries.directoryPrefix.count)
            guard Temporaries.owner(of: scheme) != nil || scheme.hasPrefix(Temporaries.prefix + "unknown."),
                  let info = try? status(directory + "/" + name, followSymlinks: false), info.kind == .directory,
                  isStale(scheme, info, me: me, now: now) else { continue }
            try? removeTree(directory + "/" + name)
        }
    }

    private func isStale(_ name: String, _ info: FileStatus, me: Temporaries.Owner?, now: Int64) -> Bool {
        if let owner = Temporaries.owner(of: name), let me, owner.boot == me.boot {
            if owner.pid == me.pid && owner.start == me.start { return false }
            do {
                if let start = try Temporaries.processStartTime(String(owner.pid), self) {
                    // Alive with the recorded start: the owner. Another start: the pid was reused.
                    return start != owner.start
                }
            } catch {
                return true // the owner is gone
            }
        }
        let (age, overflow) = now.subtractingReportingOverflow(info.modificationTime)
        return !overflow && age > Temporaries.maximumAge
    }
}
