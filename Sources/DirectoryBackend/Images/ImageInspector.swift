import PVEStorage

/// What inspecting a volume's file reports: PVE's `file_size_info` list
/// `(size, format, used, parent, ctime)`; the sizes are nil when they could not be determined.
public struct ImageMetadata: Equatable, Sendable {
    public var virtualSize: Int64?
    public var format: ImageFormat?
    /// Bytes allocated on disk (qemu-img's `actual-size`).
    public var allocatedSize: Int64?
    public var backingFile: String?
    public var changeTime: Int64

    public init(virtualSize: Int64?, format: ImageFormat?, allocatedSize: Int64?, backingFile: String? = nil, changeTime: Int64) {
        self.virtualSize = virtualSize
        self.format = format
        self.allocatedSize = allocatedSize
        self.backingFile = backingFile
        self.changeTime = changeTime
    }
}

/// Why a file is not a readable image of the format it was inspected as.
public struct ImageInspectionError: StorageFailure {
    public enum Kind: Hashable, Sendable {
        /// The file is not in that format at all (qemu-img's "Image is not in <fmt> format").
        case wrongFormat
        /// It claims the format, but its header is damaged, hostile or uses unsupported features.
        case invalidHeader
        /// The format is not one the inspector reads.
        case unsupportedFormat
    }

    public var kind: Kind
    public var path: String
    /// qemu-img's description of the problem.
    public var reason: String

    /// `error` met reading `path`; a file that claims the format but is unusable is `unusable`.
    init(_ error: ImageFormatError, path: String, unusable: Kind = .invalidHeader) {
        switch error {
        case .notInFormat: kind = .wrongFormat
        case .unusable: kind = unusable
        }
        self.path = path
        reason = error.description
    }

    /// The message PVE shows (qemu-img's wording).
    public var description: String { "qemu-img: Could not open '\(path)': \(reason)" }
}

/// Reads image metadata natively from the headers (qcow2, vmdk, raw), where PVE's
/// `dir` storage spawns `qemu-img info` for every file. Warnings and errors follow
/// `file_size_info`; header problems are reported with qemu-img's wording.
public struct ImageInspector {
    /// The formats qemu-img is asked about (of PVE's list: raw, qcow, qcow2, qed, vmdk,
    /// cloop, those a volume can have); others are inspected as raw (with a warning).
    static let queriedFormats: Set<VolumeFormat> = [.image(.raw), .image(.qcow2), .image(.vmdk)]

    public var system: any SystemCalls
    public var diagnostics: Diagnostics

    public init(system: any SystemCalls, diagnostics: Diagnostics = Diagnostics()) {
        self.system = system
        self.diagnostics = diagnostics
    }

    /// Inspects `path` as `format` (nil: detect it). Returns nil, with a warning, when
    /// the file cannot be stat'ed; throws when it is not a readable image of that format.
    ///
    /// `probe` is what ``SystemCalls/probeFiles(_:)`` found for `path` (status following
    /// symlinks, the first bytes): used where it succeeded; what failed there is done
    /// again here, so that errors and warnings are those of a call made now.
    public func inspect(_ path: String, format expected: VolumeFormat?, probe: FileProbe? = nil) throws(ImageInspectionError) -> ImageMetadata? {
        let info: FileStatus
        do {
            if case .success(let probed)? = probe?.status { info = probed } else { info = try system.status(path, followSymlinks: true) }
        } catch {
            let dangling = (try? system.status(path, followSymlinks: false))?.kind == .symlink
            diagnostics.warn("failed to stat '\(path)'\(dangling ? " - dangling symlink?" : "")")
            return nil
        }
        if info.kind == .directory {
            // PVE warns, but still reports the directory as a subvol.
            if let expected, expected != .image(.subvol) {
                diagnostics.warn("expected format '\(expected)', but '\(path)' is a directory")
            }
            return ImageMetadata(virtualSize: 0, format: .subvol, allocatedSize: 0, changeTime: info.changeTime)
        }
        if expected == .image(.subvol) {
            diagnostics.warn("expected format 'subvol', but '\(path)' is not a directory")
        }
        var format = expected?.imageFormat
        if let requested = expected, !Self.queriedFormats.contains(requested) {
            diagnostics.warn("file_size_info: '\(path)': falling back to 'raw' from unknown format '\(requested)'")
            format = .raw
        }

        var head: [UInt8] = []
        if case .success(let bytes)? = probe?.head { head = bytes }
        let file = ImageFile(path: path, length: info.size, system: system, head: head)
        let detected = format ?? detect(file)
        var header: ImageHeader
        do throws(ImageFormatError) {
            switch detected {
            case .qcow2: header = try QCOW2.readHeader(file)
            case .vmdk: header = try VMDK.readHeader(file)
            case .raw: header = ImageHeader(virtualSize: Self.rawSize(info.size))
            case .subvol: throw ImageFormatError.unusable("Unsupported image format '\(detected)'")
            }
        } catch {
            let unusable: ImageInspectionError.Kind = detected == .qcow2 || detected == .vmdk ? .invalidHeader : .unsupportedFormat
            throw ImageInspectionError(error, path: path, unusable: unusable)
        }
        if let backing = header.backingFile, backing.contains(where: \.isWhitespace) {
            // PVE warns and then drops such a name (it only accepts non-blank names).
            diagnostics.warn("strange parent name path '\(backing)' found")
            header.backingFile = nil
        }
        return ImageMetadata(
            virtualSize: header.virtualSize, format: detected,
            allocatedSize: info.allocatedBytes, backingFile: header.backingFile,
            changeTime: info.changeTime)
    }

    /// QEMU reports a raw file's size in whole 512-byte sectors, rounded up.
    static func rawSize(_ bytes: Int64) -> Int64 {
        guard bytes > 0 else { return 0 }
        let sectors = bytes / 512 + (bytes % 512 == 0 ? 0 : 1)
        return sectors > Int64.max / 512 ? bytes : sectors * 512
    }

    /// The format of an image by its magic bytes, as qemu-img probes it (qcow2, vmdk, else raw).
    func detect(_ file: ImageFile) -> ImageFormat {
        guard let magic = try? file.bytes(at: 0, count: 4) else { return .raw }
        if magic == QCOW2.magic { return .qcow2 }
        if magic == VMDK.sparseMagic || magic == VMDK.cowdMagic { return .vmdk }
        return .raw
    }
}

extension DirectoryStorage {
    var inspector: ImageInspector { ImageInspector(system: system, diagnostics: diagnostics) }
}
