import PVEStorage

/// How handling an image file failed: allocating, renaming, removing, resizing or
/// reading it, and the file operations the image and snapshot code share.
public enum ImageFailure: StorageFailure {
    // MARK: File operations
    case stat(path: String, Errno)
    /// `stat for '<path>' failed`: the wording of QEMU's blockdev options.
    case statForBlockdev(path: String, Errno)
    case rename(from: String, to: String, Errno)
    /// A temporary's rename to `path` (`rename to '<path>' failed`).
    case renameInto(path: String, Errno)
    case unlink(path: String, Errno)
    case mkdir(path: String, Errno)
    /// qemu-img's words for a file it cannot open.
    case cannotOpen(path: String, Errno)
    case temporaryNotCreated(directory: String, Errno)
    case reflinkCopy(source: String, Errno)
    case notRegularFile(path: String)
    case imagesNotListed(directory: String, Errno)
    /// The snapshot table could not be read for another reason than the image's format.
    case informationUnavailable

    // MARK: Existence
    /// `disk image '<path>' already exists`.
    case imageExists(path: String)
    /// `file '<path>' already exists`.
    case fileExists(path: String)
    /// `volume '<path>' exists`.
    case volumeExists(path: String)
    case targetVolumeExists(name: String)
    case volumeMissing(storage: String, volname: String)
    /// Reflink snapshot files (`files`, their paths) of an earlier volume named `path`.
    case leftoverSnapshots(path: String, files: [String])

    // MARK: Allocation
    /// The name's extension is not the requested format's (`requested` as the caller named it).
    case wrongExtension(name: String, format: ImageFormat, requested: FormatName<ImageFormat>)
    case subvolQuota
    case subvolNotCreated(path: String, Errno)
    /// `shown` is the size as given, escaped for the message.
    case invalidSize(shown: String)
    /// The temporary a new image is written into could not be created.
    case newImageTemporary(directory: String, Errno)
    /// The finished new image could not be renamed to `path`.
    case newImageNotMoved(path: String, Errno)
    case preallocationUnsupported(Preallocation, format: VolumeFormat)
    case illegalVMID(String)
    /// No `vm-<vmid>-disk-<n>` name is free.
    case noFreeName(vmid: String, storage: String)

    // MARK: Rename, removal, resize, activation
    /// The storage has no `path`.
    case noPath
    case renameWithChainSnapshots
    case protectedVolume(volname: String, storage: String)
    case resizeUnsupportedFormat
    /// A snapshot resized on a storage without `snapshot-as-volume-chain` (`className` is its plugin's).
    case snapshotResize(className: String)
    /// Only the snapshot of an image whose snapshots live inside it cannot be attached.
    case snapshotNotAttachable(format: VolumeFormat)

    public var errno: Errno? {
        switch self {
        case .stat(_, let errno), .statForBlockdev(_, let errno), .rename(_, _, let errno), .renameInto(_, let errno),
             .unlink(_, let errno), .mkdir(_, let errno), .cannotOpen(_, let errno), .temporaryNotCreated(_, let errno),
             .reflinkCopy(_, let errno), .imagesNotListed(_, let errno), .subvolNotCreated(_, let errno),
             .newImageTemporary(_, let errno), .newImageNotMoved(_, let errno):
            errno
        default:
            nil
        }
    }

    public var description: String {
        switch self {
        case .stat(let path, let errno): "stat '\(path)' failed - \(errno)"
        case .statForBlockdev(let path, let errno): "stat for '\(path)' failed - \(errno)"
        case .rename(let from, let to, let errno): "rename '\(from)' to '\(to)' failed - \(errno)"
        case .renameInto(let path, let errno): "rename to '\(path)' failed - \(errno)"
        case .unlink(let path, let errno): "unlink '\(path)' failed - \(errno)"
        case .mkdir(let path, let errno): "mkdir \(path): \(errno)"
        case .cannotOpen(let path, let errno): "qemu-img: Could not open '\(path)': Could not open '\(path)': \(errno)"
        case .temporaryNotCreated(let directory, let errno): "cannot create a temporary file in '\(directory)' - \(errno)"
        case .reflinkCopy(let source, let errno): "reflink copy of '\(source)' failed - \(errno)"
        case .notRegularFile(let path): "'\(path)' is not a regular file"
        case .imagesNotListed(let directory, let errno): "unable to list images in '\(directory)' - \(errno)"
        case .informationUnavailable: "failed to query file information with qemu-img"
        case .imageExists(let path): "disk image '\(path)' already exists"
        case .fileExists(let path): "file '\(path)' already exists"
        case .volumeExists(let path): "volume '\(path)' exists"
        case .targetVolumeExists(let name): "target volume '\(name)' already exists"
        case .volumeMissing(let storage, let volname): "volume '\(storage):\(volname)' does not exist"
        case .leftoverSnapshots(let path, let files):
            "disk image '\(path)' has snapshot files left from an earlier volume of that name ("
                + files.map { "'\(FilePath.name(of: $0))'" }.joined(separator: ", ") + "); remove them first"
        case .wrongExtension(let name, let format, let requested):
            "illegal name '\(name)' - wrong extension for format ('\(format) != '\(requested)')"
        case .subvolQuota: "storage does not support subvol quotas"
        case .subvolNotCreated(let path, let errno): "unable to create subvol '\(path)' - \(errno)"
        case .invalidSize(let shown): "invalid size '\(shown)'"
        case .newImageTemporary(let directory, let errno):
            "unable to create image: cannot create a temporary file in '\(directory)' - \(errno)"
        case .newImageNotMoved(let path, let errno): "unable to create image: cannot move the new image to '\(path)' - \(errno)"
        case .preallocationUnsupported(let mode, let format): "preallocation mode '\(mode.name)' not supported by format '\(format)'"
        case .illegalVMID(let vmid): "VMID '\(vmid)' contains illegal characters"
        case .noFreeName(let vmid, let storage): "unable to allocate an image name for VM \(vmid) in storage '\(storage)'"
        case .noPath: "no path found"
        case .renameWithChainSnapshots: "we can't rename volume if a snapshot backed by a volume-chain exists"
        case .protectedVolume(let volname, let storage): "cannot remove protected volume '\(volname)' on '\(storage)'"
        case .resizeUnsupportedFormat: "can't resize this image format"
        case .snapshotResize(let className):
            "resizing a snapshot is not supported for \(className) without 'snapshot-as-volume-chain'"
        case .snapshotNotAttachable(let format): "cannot attach only the snapshot of a '\(format)' image"
        }
    }
}

/// Why `create_base` or `clone_image` refused a volume.
public enum TemplateFailure: StorageFailure {
    /// `create_base` of a volume that is no image.
    case baseOfWrongType(ContentType)
    case alreadyBase
    /// A raw volume with reflink snapshots (their names) cannot become a template.
    case hasSnapshots(volname: String, snapshots: [String])
    /// The image's size could not be read (`file_size_info` failed).
    case sizeUnknown(volname: String)
    /// The linked clone's backing file is not the base its volname names.
    case wrongParent(volname: String)
    /// `clone_image` of a volume that is no image.
    case cloneOfWrongType(ContentType)
    case cloneOfSnapshot
    case cloneOfSubvolume
    case cloneOfNonBase

    public var description: String {
        switch self {
        case .baseOfWrongType(let vtype): "create_base on wrong vtype '\(vtype)'"
        case .alreadyBase: "create_base not possible with base image"
        case .hasSnapshots(let volname, let snapshots):
            "create_base not possible while '\(volname)' has snapshots ("
                + snapshots.map { "'\($0)'" }.joined(separator: ", ") + "); delete them first"
        case .sizeUnknown(let volname): "file_size_info on '\(volname)' failed"
        case .wrongParent(let volname): "volname '\(volname)' contains wrong information about parent"
        case .cloneOfWrongType(let vtype): "clone_image on wrong vtype '\(vtype)'"
        case .cloneOfSnapshot: "this storage type does not support clone_image on snapshot"
        case .cloneOfSubvolume: "this storage type does not support clone_image on subvolumes"
        case .cloneOfNonBase: "clone_image only works on base images"
        }
    }
}

/// How a qemu-img command failed, reported as PVE's `run_command` does: with the
/// caller's `prefix`, `<prefix>: <why>`; without, `command '<command>' failed: <why>`
/// (`command` is the command line as shown, naming the final file, not a temporary).
public enum QemuImgFailure: StorageFailure {
    /// How the program ended.
    public enum Ending: Hashable, Sendable {
        case exitCode(Int32)
        case signal(Int32)
    }

    /// The program could not be started.
    case notStarted(command: String, prefix: String?, executable: String, Errno)
    /// Killed by `signal` because the task is being stopped.
    case interrupted(command: String, prefix: String?, signal: Int32)
    case timedOut(command: String)
    /// With a prefix: the last line qemu-img wrote to its error output.
    case reported(prefix: String, message: String)
    /// It failed without a word (or there was no prefix to report one with).
    case failed(command: String, prefix: String?, Ending)

    public var errno: Errno? {
        switch self {
        case .notStarted(_, _, _, let errno): errno
        case .interrupted: .interrupted
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .notStarted(let command, let prefix, let executable, let errno):
            "\(Self.lead(prefix, command)): unable to run \(executable) - \(errno)"
        case .interrupted(let command, let prefix, let signal):
            "\(Self.lead(prefix, command)): interrupted by signal \(signal)"
        case .timedOut(let command): "command '\(command)' failed: got timeout"
        case .reported(let prefix, let message): "\(prefix): \(message)"
        case .failed(let command, let prefix, .exitCode(let status)): "\(Self.lead(prefix, command)): exit code \(status)"
        case .failed(let command, let prefix, .signal(let signal)): "\(Self.lead(prefix, command)): got signal \(signal)"
        }
    }

    private static func lead(_ prefix: String?, _ command: String) -> String { prefix ?? "command '\(command)' failed" }
}
