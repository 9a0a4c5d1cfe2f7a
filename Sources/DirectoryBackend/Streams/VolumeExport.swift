import PVEStorage

/// `volume_export_formats` and `volume_export`: `dir`'s
/// matrix, header and payloads, without `dd`: raw files are sent by the kernel
/// (sendfile) with holes written as zeros and never read, and a qcow2 image is sent
/// as raw from its cluster tables, through the backing chain of a linked clone.
extension DirectoryStorage {
    /// Whether `path` is set in Perl's sense (dir's `$scfg->{path}`).
    var hasPath: Bool { config.path.map { !$0.isEmpty && $0 != "0" } ?? false }

    /// `volume_export_formats`: what the volume can be sent as; nothing for a snapshot,
    /// an incremental stream or a storage without a path.
    public func exportFormats(_ volname: String, snapshot: String?, baseSnapshot: String?,
                              withSnapshots: Bool) throws(StorageError) -> [StreamFormat] {
        if withSnapshots, snapshot != nil { return replicationFormats(volname) }
        guard hasPath, snapshot == nil, baseSnapshot == nil else { return [] }
        let volume = try VolumeName.parse(volname, for: host)
        return StreamFormats.formats(vtype: volume.vtype, format: volume.format, withSnapshots: withSnapshots, host: host)
    }

    /// `volume_export`: writes the size header and the payload of `format` to `descriptor`
    /// (a pipe, a socket or a file; never seeked). `className` names the plugin in refusals,
    /// which name the format as the caller wrote it.
    public func exportVolume(_ volname: String, format: FormatName<StreamFormat>, to descriptor: Int32, snapshot: String?,
                             baseSnapshot: String?, withSnapshots: Bool, className: String) throws(StorageError) {
        if withSnapshots, config.snapshotAsVolumeChain {
            throw StorageError(ExportFailure.snapshotsWithVolumeChain(className: className))
        }
        let refusal = StorageError(ExportFailure.formatNotAvailable(format: format, className: className))
        if withSnapshots, let snapshot, format.format == .raw {
            return try exportReplication(volname, snapshot: snapshot, baseSnapshot: baseSnapshot, to: descriptor, refusal: refusal)
        }
        guard hasPath, snapshot == nil, baseSnapshot == nil else { throw refusal }
        let (path, volume) = try filesystemPath(volname)
        let fileFormat = volume.format
        if volume.isArchiveMember {
            // dir hands `ova+<fmt>` to qemu-img as a format, which fails after the header.
            throw StorageError(ExportFailure.archiveMember(volname: volname))
        }
        // dir's file_size_info: a problem is a warning, and the size then undef (0 in the header).
        var size: Int64 = 0
        do { size = try inspector.inspect(path, format: fileFormat)?.virtualSize ?? 0 } catch {
            diagnostics.warn(error.description)
        }
        guard let stream = format.format else { throw refusal }
        switch stream {
        case .raw:
            guard !withSnapshots, fileFormat != .image(.subvol) else { throw refusal }
        case .qcow2, .vmdk:
            guard withSnapshots, fileFormat == .image(stream.dataFormat) else { throw refusal }
        case .tar:
            guard fileFormat == .image(.subvol) else { throw refusal }
        }

        let channel = StreamChannel(system: system, descriptor: descriptor, direction: .export, total: UInt64(max(size, 0)))
        defer { channel.end() }
        if stream == .tar {
            try channel.writeHeader(UInt64(max(size, 0)))
            channel.end() // tar gets the stream as it was; the subprocess runner's own watch stops it
            try runTar(Command(Self.tar, Self.tarFlags + ["-cf", "-", "-C", path, "."], timeout: Self.tarTimeout),
                       output: descriptor)
            return
        }
        try channel.writeHeader(UInt64(max(size, 0)))
        // An image other than raw is sent as raw; raw files and import sources as they are.
        if stream == .raw, let image = fileFormat.imageFormat, image != .raw {
            try sendAsRaw(path, format: image, virtualSize: size, channel)
        } else {
            try sendFile(path, channel)
        }
        channel.progress.finish()
    }

    // MARK: - Payloads

    /// A file as it is, holes as zeros (never read).
    func sendFile(_ path: String, _ channel: StreamChannel) throws(StorageError) {
        let source = try openForExport(path)
        defer { system.closeFile(source) }
        let length: Int64
        do { length = try system.status(of: source).size } catch {
            throw StorageError(ExportFailure.stat(path: path, error))
        }
        try sendSparse(source, path: path, from: 0, count: length, channel)
    }

    func openForExport(_ path: String) throws(StorageError) -> Int32 {
        do { return try system.openFile(path, writing: false) } catch {
            throw StorageError(ExportFailure.open(path: path, error))
        }
    }

    /// Bytes `[start, start+count)` of an open file: its data by the kernel, its holes
    /// (and anything past its end) as zeros.
    func sendSparse(_ source: Int32, path: String, from start: Int64, count: Int64, _ channel: StreamChannel) throws(StorageError) {
        let end = start + count
        var position = start
        while position < end {
            let data: Int64?
            do { data = try system.seek(source, from: position, hole: false) } catch {
                // No SEEK_DATA on this file system: everything is data.
                try channel.send(from: source, at: position, count: end - position, path: path)
                return
            }
            guard let data, data < end else {
                try channel.writeZeros(end - position)
                return
            }
            if data > position { try channel.writeZeros(data - position) }
            let hole = min((try? system.seek(source, from: data, hole: true)) ?? end, end)
            try channel.send(from: source, at: data, count: hole - data, path: path)
            position = hole
        }
    }

    /// A qcow2 (or any image) as raw bytes of its virtual size: natively from the cluster
    /// tables when the whole chain is qcow2 or raw without compressed clusters, external
    /// data files or encryption, each backing file's format recorded in its overlay's
    /// backing format header extension (never probed); otherwise `qemu-img convert` into a hidden temporary raw
    /// file beside the image, sent and removed.
    func sendAsRaw(_ path: String, format: ImageFormat, virtualSize: Int64, _ channel: StreamChannel) throws(StorageError) {
        guard system.exists(path) else {
            throw StorageError(ExportFailure.open(path: path, .noSuchFileOrDirectory))
        }
        var opened: [Int32] = []
        defer { for descriptor in opened { system.closeFile(descriptor) } }
        if format == .qcow2, let layer = try exportLayer(path, format: format, depth: 0, opened: &opened) {
            try emit(layer, from: 0, count: virtualSize, path: path, channel)
            return
        }
        try sendConverted(path, format: format, channel)
    }

    /// One image of a backing chain, opened for export.
    indirect enum ExportLayer {
        case qcow2(map: QCOW2ClusterMap, descriptor: Int32, path: String, backing: ExportLayer?)
        case raw(descriptor: Int32, path: String, size: Int64)
    }

    /// The longest backing chain followed natively.
    static let maximumChain = 16

    /// `path` as a layer, nil when it (or its chain) needs qemu-img.
    func exportLayer(_ path: String, format: ImageFormat, depth: Int, opened: inout [Int32]) throws(StorageError) -> ExportLayer? {
        guard depth < Self.maximumChain else { return nil }
        let info: FileStatus
        do { info = try system.status(path, followSymlinks: true) } catch {
            throw StorageError(ExportFailure.stat(path: path, error))
        }
        let file = ImageFile(path: path, length: info.size, system: system)
        if format == .raw {
            let descriptor = try openForExport(path)
            opened.append(descriptor)
            return .raw(descriptor: descriptor, path: path, size: info.size)
        }
        guard format == .qcow2 else { return nil }
        let map: QCOW2ClusterMap
        do {
            map = try QCOW2ClusterMap(file: file)
            if map.layout.encrypted || map.layout.externalDataFile || map.layout.nonDefaultCompression { return nil }
            if try map.hasCompressedClusters() { return nil }
        } catch {
            throw StorageError(ExportFailure.unreadableImage(path: path, error))
        }
        var backing: ExportLayer?
        if let name = map.layout.backingFile {
            // The backing file's format is the one the overlay records, never probed: a
            // raw base holds what its guest wrote, which may well look like a qcow2 header
            // naming any host file. Without a recorded raw or qcow2, qemu-img decides.
            guard let backingFormat = map.layout.backingFormat.flatMap(ImageFormat.init(rawValue:)),
                  backingFormat == .raw || backingFormat == .qcow2 else { return nil }
            let backingPath = name.hasPrefix("/") ? name : FilePath.parent(of: path) + "/" + name
            guard let layer = try exportLayer(backingPath, format: backingFormat, depth: depth + 1, opened: &opened) else { return nil }
            backing = layer
        }
        let descriptor = try openForExport(path)
        opened.append(descriptor)
        return .qcow2(map: map, descriptor: descriptor, path: path, backing: backing)
    }

    /// Guest bytes `[start, start+count)` of a layer; beyond its size, zeros.
    func emit(_ layer: ExportLayer, from start: Int64, count: Int64, path: String, _ channel: StreamChannel) throws(StorageError) {
        guard count > 0 else { return }
        switch layer {
        case .raw(let descriptor, let rawPath, _):
            try sendSparse(descriptor, path: rawPath, from: start, count: count, channel)
        case .qcow2(let map, let descriptor, let imagePath, let backing):
            let end = start + count
            var position = start
            // One window at a time: the runs of a huge disk are never all in memory.
            let window = max(map.layout.tableCoverage, 1 << 30)
            while position < end {
                let length = min(window, end - position)
                let runs: [ClusterRun]
                do { runs = try map.runs(from: position, count: length) } catch {
                    throw StorageError(ExportFailure.unreadableClusters(path: imagePath, error))
                }
                var covered = position
                for run in runs {
                    switch run {
                    case .data(_, let host, let runLength):
                        try sendSparse(descriptor, path: imagePath, from: host, count: runLength, channel)
                    case .zero(_, let runLength):
                        try channel.writeZeros(runLength)
                    case .unallocated(let runStart, let runLength):
                        if let backing { try emit(backing, from: runStart, count: runLength, path: path, channel) } else {
                            try channel.writeZeros(runLength)
                        }
                    case .compressed:
                        throw StorageError(ExportFailure.compressedClusters(path: imagePath))
                    }
                    covered = run.start + run.length
                }
                // Past the image's virtual size (a backing file smaller than its overlay): zeros.
                if covered < position + length { try channel.writeZeros(position + length - covered) }
                position += length
            }
        }
    }

    /// The image converted by qemu-img into a hidden temporary raw file in its directory
    /// (reclaimed like any temporary if this process dies), sent, and removed.
    func sendConverted(_ path: String, format: ImageFormat, _ channel: StreamChannel) throws(StorageError) {
        let directory = FilePath.parent(of: path)
        let temporary: String
        do { temporary = try system.createTemporaryFile(in: directory, mode: 0o600) } catch {
            throw StorageError(ExportFailure.createTemporary(directory: directory, error))
        }
        defer { try? system.removeFile(temporary) }
        var convert = Command(QemuImg.executable, ["convert", "-f", format.description, "-O", "raw", path, temporary],
                              timeout: QemuImg.createTimeout)
        convert.removeWhenInterrupted = [temporary]
        // The raw copy needs the disk's data in free space on this storage; a failure says why.
        try runQemuImg(convert, errorPrefix: "export: cannot convert '\(path)' to raw in a temporary file in '\(directory)'",
                       printing: false)
        try sendFile(temporary, channel)
    }

    // MARK: - tar

    static let tar = "/bin/tar"
    /// PVE's flags for container streams (PVE::Storage::Plugin's `volume_export`).
    static let tarFlags = [
        "--one-file-system", "-p", "--sparse", "--numeric-owner", "--acls",
        "--xattrs", "--xattrs-include=user.*", "--xattrs-include=security.capability",
        "--warning=no-file-ignored", "--warning=no-xattr-write",
    ]
    static let tarTimeout = 24 * 3600

    /// Runs tar with the stream as its standard output or input.
    func runTar(_ command: Command, output: Int32? = nil, input: Int32? = nil) throws(StorageError) {
        var command = command
        command.standardOutput = output
        command.standardInput = input
        try runQemuImg(command, errorPrefix: nil, printing: false)
    }
}
