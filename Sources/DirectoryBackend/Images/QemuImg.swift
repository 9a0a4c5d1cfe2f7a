import PVEStorage

/// The qemu-img commands the image store runs, by argument vector.
public enum QemuImg {
    public static let executable = "/usr/bin/qemu-img"
    /// Creating with full preallocation writes the whole disk; allow for large, slow disks.
    public static let createTimeout = 6 * 3600
    /// PVE's timeout for a resize.
    public static let resizeTimeout = 10

    /// `qemu-img create [-o preallocation=<p>] -f <fmt> <path> <size>K`.
    public static func create(format: ImageFormat, path: String, sizeKiB: String, preallocation: Preallocation?) -> Command {
        var arguments = ["create"]
        if let preallocation { arguments += ["-o", "preallocation=\(preallocation.name)"] }
        arguments += ["-f", format.description, path, "\(sizeKiB)K"]
        return Command(executable, arguments, timeout: createTimeout)
    }

    /// A qcow2 overlay backed by `backing` (recorded as given; QEMU resolves a relative
    /// name against the overlay's directory); the size is the backing file's.
    public static func createBacked(path: String, backing: String, backingFormat: VolumeFormat,
                                    layout: BackedImageOptions, preallocation: Preallocation?) -> Command {
        var arguments = ["create", "-F", backingFormat.description, "-b", backing, "-f", "qcow2", path]
        if layout == .extendedL2 {
            var options = "extended_l2=on,cluster_size=128k"
            if let preallocation { options += ",preallocation=\(preallocation.name)" }
            arguments += ["-o", options]
        }
        return Command(executable, arguments, timeout: createTimeout)
    }

    /// `qemu-img resize [--preallocation=<p>] -f <fmt> <path> <bytes>`.
    public static func resize(path: String, format: VolumeFormat, size: String, preallocation: Preallocation?) -> Command {
        var arguments = ["resize"]
        if let preallocation { arguments.append("--preallocation=\(preallocation.name)") }
        arguments += ["-f", format.description, path, size]
        return Command(executable, arguments, timeout: resizeTimeout)
    }

    /// What `qemu-img snapshot` does with an internal snapshot.
    public enum SnapshotAction: String, Sendable {
        case create = "-c", apply = "-a", delete = "-d"
    }

    /// `qemu-img snapshot -c|-a|-d <name> <path>`: PVE gives it no deadline; ours is the creation one.
    public static func snapshot(_ action: SnapshotAction, _ name: String, path: String) -> Command {
        Command(executable, ["snapshot", action.rawValue, name, path], timeout: createTimeout)
    }

    /// `qemu-img commit <path>`: merges an overlay into its backing file.
    public static func commit(_ path: String) -> Command {
        Command(executable, ["commit", path], timeout: createTimeout)
    }

    /// `qemu-img rebase -b <backing> -F qcow2 -f qcow2 <path>` (safe mode: the data
    /// that differs is copied into the overlay before its backing reference changes).
    public static func rebase(_ path: String, onto backing: String) -> Command {
        Command(executable, ["rebase", "-b", backing, "-F", "qcow2", "-f", "qcow2", path], timeout: createTimeout)
    }

    /// The preallocation argument for `format` from the storage's `preallocation` option
    /// (§9.4): qcow2 defaults to metadata, raw to off (metadata counts as off), others none.
    public static func preallocation(_ configured: Preallocation?, format: VolumeFormat) throws(StorageError) -> Preallocation? {
        let allowed: [Preallocation]
        var mode: Preallocation
        switch format {
        case .image(.qcow2):
            allowed = [.off, .metadata, .falloc, .full]
            mode = configured ?? .metadata
        case .image(.raw):
            allowed = [.off, .falloc, .full]
            mode = configured ?? .off
            if mode == .metadata { mode = .off }
        default:
            return nil
        }
        guard allowed.contains(mode) else {
            throw StorageError(ImageFailure.preallocationUnsupported(mode, format: format))
        }
        return mode
    }
}

/// qemu-img's preallocation modes: the storage's `preallocation` option.
public enum Preallocation: Hashable, Sendable, ExpressibleByStringLiteral {
    case off, metadata, falloc, full
    /// A mode qemu-img does not have (PVE's schema refuses it); kept to name it in the refusal.
    case other(String)

    public init(_ name: String) {
        switch name {
        case "off": self = .off
        case "metadata": self = .metadata
        case "falloc": self = .falloc
        case "full": self = .full
        default: self = .other(name)
        }
    }

    public init(stringLiteral name: String) { self.init(name) }

    /// The mode's name, as qemu-img and storage.cfg spell it.
    public var name: String {
        switch self {
        case .off: return "off"
        case .metadata: return "metadata"
        case .falloc: return "falloc"
        case .full: return "full"
        case .other(let name): return name
        }
    }
}

extension DirectoryStorage {
    /// Runs a qemu-img command and reports a failure the way PVE's `run_command` does:
    /// with `prefix`, `<prefix>: <last line qemu-img wrote to stderr>` (or the exit code);
    /// without, `command '<cmd>' failed: exit code <n>`, the error output going to warnings.
    /// What qemu-img writes to standard output ("Formatting ...", "Image resized.") is
    /// printed, as `run_command` passes it on to the task log, unless `printing` is false
    /// (an export, whose stream may be this process's standard output). With `naming`,
    /// everything reported names the final file instead of the temporary.
    func runQemuImg(_ command: Command, errorPrefix prefix: String?, printing: Bool = true,
                    naming: TemporaryName? = nil) throws(StorageError) {
        func shown(_ text: String) -> String { naming?.shown(text) ?? text }
        let result: CommandResult
        do { result = try system.run(command) } catch {
            throw StorageError(QemuImgFailure.notStarted(command: shown(command.shellText), prefix: prefix,
                                                         executable: command.executable, error))
        }
        if printing {
            for line in String(decoding: result.output, as: UTF8.self).split(separator: "\n") { diagnostics.print(shown(String(line))) }
        }
        if result.succeeded { return }
        if let signal = result.interruption {
            // The task is being stopped: the program was killed; the caller removes what it made.
            throw StorageError(QemuImgFailure.interrupted(command: shown(command.shellText), prefix: prefix, signal: signal))
        }
        let lines = String(decoding: result.errorOutput, as: UTF8.self).split(separator: "\n").map { shown(String($0)) }
        let ending: QemuImgFailure.Ending
        if result.timedOut {
            throw StorageError(QemuImgFailure.timedOut(command: shown(command.shellText)))
        } else if let signal = result.signal {
            ending = .signal(signal)
        } else {
            ending = .exitCode(result.exitStatus ?? -1)
        }
        if let prefix {
            for line in lines.dropLast() { diagnostics.warn(line) }
            if let last = lines.last { throw StorageError(QemuImgFailure.reported(prefix: prefix, message: last)) }
            throw StorageError(QemuImgFailure.failed(command: shown(command.shellText), prefix: prefix, ending))
        }
        for line in lines { diagnostics.warn(line) }
        throw StorageError(QemuImgFailure.failed(command: shown(command.shellText), prefix: nil, ending))
    }
}

/// A file qemu-img writes under a temporary name, and the final name messages give it:
/// the user asked for that volume, and the temporary is gone when they read them.
struct TemporaryName {
    var temporary: String
    var final: String

    /// `text` (qemu-img's words, or its command line) naming the final file.
    func shown(_ text: String) -> String { text.replacingText(temporary, with: final) }
}

extension Command {
    /// The command as PVE shows it in messages: each argument shell-quoted where needed,
    /// with the characters String::ShellQuote (PVE's `cmd2string`) leaves unquoted.
    public var shellText: String {
        ([executable] + arguments).map { argument in
            let plain = !argument.isEmpty && argument.utf8.allSatisfy { byte in
                switch byte {
                case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
                default: return "_-.,:/@+%!^".utf8.contains(byte)
                }
            }
            return plain ? argument : "'" + argument.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
        }.joined(separator: " ")
    }
}
