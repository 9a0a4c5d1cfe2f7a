import PVEStorage

/// Which way a volume stream goes: `volume_export` sends one, `volume_import` receives
/// one. Its name starts the stream's messages and progress lines.
public enum StreamDirection: String, Hashable, Sendable, CustomStringConvertible {
    case export
    case `import`

    public var description: String { rawValue }
}

/// Why `volume_import` failed: `dir`'s words where it has them (`import: ...` for the
/// stream, the allocation's for names), the plugin's for the checks beyond `dir`.
public enum ImportFailure: StorageFailure {
    /// A format the plugin does not know, named as the caller wrote it.
    case formatNotAvailable(format: FormatName<StreamFormat>, className: String)
    /// A format that carries snapshots (qcow2, vmdk) was asked for without them.
    case snapshotsRequired(StreamFormat)
    /// A format that carries no snapshots was asked for with them.
    case snapshotsUnsupported(StreamFormat)
    /// The volume names a disk inside an OVA archive.
    case archiveMember(volname: String)
    /// The stream's data format is not the volume's file format.
    case formatMismatch(stream: StreamFormat, file: VolumeFormat)
    /// The stream ended before its 8-byte size header.
    case noSizeHeader
    /// A linked clone's name, which `dir` allocates as `<vmid>/<name>` and then refuses.
    case unexpectedAllocatedName(vmid: String, name: String, volname: String)
    /// Content of a type no stream is imported into.
    case unsupportedContent(ContentType)
    case createSubvol(directory: String, Errno)
    case createTemporary(directory: String, Errno)
    case open(path: String, Errno)
    case write(path: String, Errno)
    case stat(path: String, Errno)
    /// Renaming the complete temporary to the volume's name failed.
    case publish(path: String, Errno)
    case readStream(Errno)
    /// Polling the stream failed.
    case waitFailed(Errno)
    /// A stop signal (SIGTERM, SIGINT, SIGHUP) ended the import.
    case interrupted(signal: Int32)
    /// A raw stream carried more than its header announced.
    case streamTooLong(announced: UInt64)
    /// A raw stream ended before the size its header announced.
    case streamTooShort(received: UInt64, announced: UInt64)
    /// The payload is not an image of the format (the reader's finding, in qemu-img's words).
    case unusableImage(format: ImageFormat, ImageFormatError)
    /// The image names a backing file (shown with control characters escaped).
    case backingFile(format: ImageFormat, path: String)
    /// The image names an external data file (shown with control characters escaped).
    case externalDataFile(format: ImageFormat, path: String)
    /// A vmdk extent is another file than the image (shown with control characters escaped).
    case foreignExtent(path: String)
    /// The image's virtual size is not the size the header announced.
    case sizeMismatch(virtualSize: Int64, announced: UInt64)
    case emptyImage(format: ImageFormat)
    /// qemu-img could not be started.
    case runQemuImg(Errno)
    /// qemu-img (`check` or `info`) finds the image wanting.
    case imageCheck(format: ImageFormat, ImageCheckFinding)

    public var errno: Errno? {
        switch self {
        case .createSubvol(_, let errno), .createTemporary(_, let errno),
             .open(_, let errno), .write(_, let errno), .stat(_, let errno), .publish(_, let errno),
             .readStream(let errno), .waitFailed(let errno), .runQemuImg(let errno):
            errno
        case .interrupted: .interrupted
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .formatNotAvailable(let format, let className): "volume import format '\(format)' not available for \(className)"
        case .snapshotsRequired(let format): "format \(format) cannot be imported without snapshots"
        case .snapshotsUnsupported(let format): "format \(format) cannot be imported with snapshots"
        case .archiveMember(let volname):
            "import: '\(volname)' is a disk inside an OVA archive; only whole files can be imported"
        case .formatMismatch(let stream, let file): "cannot import format \(stream) into a file of format \(file)"
        case .noSizeHeader: "import: no size found in export header, aborting."
        case .unexpectedAllocatedName(let vmid, let name, let volname):
            "internal error: unexpected allocated name: '\(vmid)/\(name)' != '\(volname)'"
        case .unsupportedContent(let vtype): "importing volume of type '\(vtype)' not implemented"
        case .createSubvol(let directory, let errno): "unable to create subvol in '\(directory)' - \(errno)"
        case .createTemporary(let directory, let errno): "import: cannot create a temporary file in '\(directory)' - \(errno)"
        case .open(let path, let errno): "import: cannot open '\(path)' - \(errno)"
        case .write(let path, let errno): "import: writing '\(path)' failed - \(errno)"
        case .stat(let path, let errno): "import: stat '\(path)' failed - \(errno)"
        case .publish(let path, let errno): "import: cannot move the new volume to '\(path)' - \(errno)"
        case .readStream(let errno): "import: reading the stream failed - \(errno)"
        case .waitFailed(let errno): "import: waiting for the stream failed - \(errno)"
        case .interrupted(let signal): "import: interrupted by signal \(signal)"
        case .streamTooLong(let announced): "import: the stream is longer than the announced size of \(announced) bytes"
        case .streamTooShort(let received, let announced): "import: the stream ended after \(received) of \(announced) bytes"
        case .unusableImage(let format, let reason): "import: the stream is not a usable \(format) image - \(reason)"
        case .backingFile(let format, let path):
            "import: refusing a \(format) image with a backing file ('\(DirectoryStorage.escapingControls(path))')"
        case .externalDataFile(let format, let path):
            "import: refusing a \(format) image with an external data file ('\(DirectoryStorage.escapingControls(path))')"
        case .foreignExtent(let path):
            "import: refusing a vmdk image whose extents are other files ('\(DirectoryStorage.escapingControls(path))')"
        case .sizeMismatch(let virtualSize, let announced):
            "import: the image's virtual size \(virtualSize) differs from the announced size \(announced)"
        case .emptyImage(let format): "import: refusing a \(format) image of size 0"
        case .runQemuImg(let errno): "import: unable to run \(QemuImg.executable) - \(errno)"
        case .imageCheck(let format, let finding): "import: the \(format) image does not check out - \(finding)"
        }
    }
}

/// What qemu-img found wrong with an imported image (``ImportFailure/imageCheck(format:_:)``).
public enum ImageCheckFinding: Hashable, Sendable, CustomStringConvertible {
    /// qemu-img's own words, as shown (`info`'s with control characters escaped).
    case complaint(String)
    /// qemu-img failed without a word (-1: no exit status).
    case exitStatus(Int32?)
    case timedOut
    /// `qemu-img info` reported another file or format, or nothing readable.
    case unexpectedInfo
    /// `qemu-img info` lists no extents for a vmdk.
    case noExtents

    public var description: String {
        switch self {
        case .complaint(let text): text
        case .exitStatus(let status): "exit code \(status ?? -1)"
        case .timedOut: "got timeout"
        case .unexpectedInfo: "unexpected qemu-img info output"
        case .noExtents: "qemu-img lists no extents"
        }
    }
}

/// Why `volume_export` failed: `dir`'s words for its refusals, `export: ...` for the
/// stream, and qemu-img's wording where the plugin reads an image in its place.
public enum ExportFailure: StorageFailure {
    /// A storage with volume chains does not send snapshots.
    case snapshotsWithVolumeChain(className: String)
    /// A format the volume cannot be sent as, named as the caller wrote it.
    case formatNotAvailable(format: FormatName<StreamFormat>, className: String)
    /// The volume names a disk inside an OVA archive.
    case archiveMember(volname: String)
    case stat(path: String, Errno)
    case open(path: String, Errno)
    case read(path: String, Errno)
    /// The file ended before the bytes to send.
    case endedEarly(path: String, at: Int64)
    /// The image's header or tables cannot be read (the reader's finding, in qemu-img's words).
    case unreadableImage(path: String, ImageFormatError)
    /// The image's cluster tables cannot be read (the reader's finding, in qemu-img's words).
    case unreadableClusters(path: String, ImageFormatError)
    case compressedClusters(path: String)
    case createTemporary(directory: String, Errno)
    case writeStream(Errno)
    /// Polling the stream failed.
    case waitFailed(Errno)
    /// A stop signal (SIGTERM, SIGINT, SIGHUP) ended the export.
    case interrupted(signal: Int32)

    public var errno: Errno? {
        switch self {
        case .stat(_, let errno), .open(_, let errno), .read(_, let errno), .createTemporary(_, let errno),
             .writeStream(let errno), .waitFailed(let errno):
            errno
        case .interrupted: .interrupted
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .snapshotsWithVolumeChain(let className): "cannot export volumes together with their snapshots in \(className)"
        case .formatNotAvailable(let format, let className): "volume export format \(format) not available for \(className)"
        case .archiveMember(let volname):
            "export: '\(volname)' is a disk inside an OVA archive; only the archive itself can be exported"
        case .stat(let path, let errno): "export: stat '\(path)' failed - \(errno)"
        case .open(let path, let errno): "export: cannot open '\(path)' - \(errno)"
        case .read(let path, let errno): "export: reading '\(path)' failed - \(errno)"
        case .endedEarly(let path, let position): "export: '\(path)' ended early at \(position)"
        case .unreadableImage(let path, let reason): "export: qemu-img: Could not open '\(path)': \(reason)"
        case .unreadableClusters(let path, let reason): "export: qemu-img: Could not read '\(path)': \(reason)"
        case .compressedClusters(let path): "export: compressed clusters in '\(path)'"
        case .createTemporary(let directory, let errno): "export: cannot create a temporary file in '\(directory)' - \(errno)"
        case .writeStream(let errno): "export: writing the stream failed - \(errno)"
        case .waitFailed(let errno): "export: waiting for the stream failed - \(errno)"
        case .interrupted(let signal): "export: interrupted by signal \(signal)"
        }
    }
}
