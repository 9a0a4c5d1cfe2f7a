import PVEStorage

/// `volume_import_formats` and `volume_import`: `dir`'s
/// checks and messages, and beyond `dir`: the payload goes to a hidden temporary name
/// and is published only when complete (a raw stream of exactly the announced size;
/// a qcow2 or vmdk image that checks out and refers to no other file; a tar stream
/// that tar unpacked without error), zero blocks become holes, progress on stderr.
extension DirectoryStorage {
    /// `volume_import_formats`: as export, except that only an incremental stream
    /// (`base_snapshot`) is refused; with snapshots, a replicating disk takes `raw+size`.
    public func importFormats(_ volname: String, baseSnapshot: String?, withSnapshots: Bool) throws(StorageError) -> [StreamFormat] {
        if withSnapshots, case let formats = replicationFormats(volname), !formats.isEmpty { return formats }
        guard hasPath, baseSnapshot == nil else { return [] }
        let volume = try VolumeName.parse(volname, for: host)
        return StreamFormats.formats(vtype: volume.vtype, format: volume.format, withSnapshots: withSnapshots, host: host)
    }

    /// `volume_import`: reads a stream of `format` from `descriptor` into a new volume
    /// and returns its volid. `print` gets the lines PVE prints (the size rounding notice).
    public func importVolume(_ volname: String, format: FormatName<StreamFormat>, from descriptor: Int32, snapshot: String? = nil,
                             baseSnapshot: String? = nil, withSnapshots: Bool, allowRename: Bool, className: String,
                             print: (String) -> Void) throws(StorageError) -> String {
        guard let stream = format.format else {
            throw StorageError(ImportFailure.formatNotAvailable(format: format, className: className))
        }
        if withSnapshots, stream == .raw, !replicationFormats(volname).isEmpty {
            return try importReplication(volname, snapshot: snapshot, baseSnapshot: baseSnapshot, from: descriptor)
        }
        if !withSnapshots, stream.carriesSnapshots { throw StorageError(ImportFailure.snapshotsRequired(stream)) }
        if withSnapshots, !stream.carriesSnapshots { throw StorageError(ImportFailure.snapshotsUnsupported(stream)) }
        let (path, volume) = try filesystemPath(volname)
        if volume.isArchiveMember {
            throw StorageError(ImportFailure.archiveMember(volname: volname))
        }
        let isImage = volume.vtype == .images || volume.vtype == .rootdir
        if isImage, volume.format != .image(stream.dataFormat) {
            throw StorageError(ImportFailure.formatMismatch(stream: stream, file: volume.format))
        }
        var requested: String? = volume.name
        if system.exists(path) {
            guard allowRename, isImage else { throw StorageError(ImageFailure.fileExists(path: path)) }
            diagnostics.warn("file '\(path)' already exists - importing with a different name")
            requested = nil
        }

        let channel = StreamChannel(system: system, descriptor: descriptor, direction: .import, total: nil)
        defer { channel.end() }
        guard let size = try channel.readHeader() else { throw StorageError(ImportFailure.noSizeHeader) }
        let (kib, notice) = StreamHeader.kibibytes(size)
        if let notice { print(notice) }

        if isImage {
            let vmid = volume.vmid ?? ""
            if let requested, volume.baseName != nil {
                // dir allocates `<vmid>/<name>`, which is not the linked clone's name, frees it and refuses.
                throw StorageError(ImportFailure.unexpectedAllocatedName(vmid: vmid, name: requested, volname: volname))
            }
            let name = try importImage(stream, vmid: vmid, name: requested, size: size, sizeKiB: kib, channel)
            return "\(id):\(vmid)/\(name)"
        }
        guard [.import, .iso, .snippets, .vztmpl].contains(volume.vtype) else {
            throw StorageError(ImportFailure.unsupportedContent(volume.vtype))
        }
        // dir copies any payload into these files as it comes (dd); a raw one must be complete.
        try importFile(path, expected: stream == .raw ? size : nil, channel)
        return "\(id):\(volname)"
    }

    // MARK: - Images

    /// A guest image (or container directory) from the stream, published under `name`
    /// (or the next free name); returns the name.
    func importImage(_ stream: StreamFormat, vmid: String, name: String?, size: UInt64, sizeKiB: UInt64,
                     _ channel: StreamChannel) throws(StorageError) -> String {
        let directory = try imageDirectory(vmid: vmid)
        let format = stream.dataFormat
        if stream == .tar, sizeKiB != 0 { throw StorageError(ImageFailure.subvolQuota) }
        _ = try QemuImg.preallocation(config.preallocation, format: .image(format))
        do { try system.makeDirectories(directory) } catch {
            throw StorageError(ImageFailure.mkdir(path: directory, error))
        }
        system.reclaimStaleTemporaries(in: directory)
        if stream == .tar {
            channel.end() // tar reads the stream itself; the subprocess runner watches the stop signals
            return try importTree(directory: directory, vmid: vmid, name: name, channel)
        }
        let temporary = try newTemporary(in: directory, removingEmpty: true)
        do throws(StorageError) {
            try receive(into: temporary, expected: stream == .raw ? size : nil, channel)
            if stream != .raw { try checkImportedImage(temporary, format: format, announced: size) }
            return try publishImport(temporary, directory: directory, vmid: vmid, name: name, format: format)
        } catch {
            try? system.removeFile(temporary)
            try? system.removeDirectory(directory)
            throw error
        }
    }

    /// Moves a complete import to its name, never replacing anything; without a
    /// requested name, to the next free one.
    func publishImport(_ temporary: String, directory: String, vmid: String, name: String?, format: ImageFormat) throws(StorageError) -> String {
        var attempts = 0
        while true {
            let chosen: String
            if let name { chosen = name } else { chosen = try findFreeDiskname(vmid: vmid, format: .known(format), addFormatSuffix: true) }
            let path = directory + "/" + chosen
            try refuseLeftoverSnapshots(at: path)
            do {
                try system.rename(temporary, to: path, replacing: false)
                return chosen
            } catch {
                // Another allocation took the free name meanwhile: the next one.
                if error == .fileExists, name == nil, attempts < 8 {
                    attempts += 1
                    continue
                }
                if error == .fileExists { throw StorageError(ImageFailure.imageExists(path: path)) }
                throw StorageError(ImportFailure.publish(path: path, error))
            }
        }
    }

    /// A container directory: tar unpacks the stream into a hidden directory, which is
    /// renamed into place when tar succeeded.
    func importTree(directory: String, vmid: String, name: String?, _ channel: StreamChannel) throws(StorageError) -> String {
        let hidden: String
        do {
            hidden = directory + "/" + (try Temporaries.newDirectoryName(system))
            try system.makeDirectory(hidden, mode: 0o755)
            try system.setMode(hidden, 0o755)
        } catch {
            try? system.removeDirectory(directory)
            throw StorageError(ImportFailure.createSubvol(directory: directory, error))
        }
        do throws(StorageError) {
            // GNU tar strips leading '/' and refuses member names with '..'; links whose
            // targets could lead out are created only after all other members.
            let extract = Command(Self.tar, Self.tarFlags + ["--delay-directory-restore", "-C", hidden, "-xf", "-"],
                                  timeout: Self.tarTimeout)
            try runTar(extract, input: channel.descriptor)
            return try publishImport(hidden, directory: directory, vmid: vmid, name: name, format: .subvol)
        } catch {
            try? system.removeTree(hidden)
            try? system.removeDirectory(directory)
            throw error
        }
    }

    // MARK: - Other content

    /// An ISO image, template, snippet or import source: written to a hidden temporary
    /// in its directory, published under its name only when complete.
    func importFile(_ path: String, expected: UInt64?, _ channel: StreamChannel) throws(StorageError) {
        let directory = FilePath.parent(of: path)
        let temporary: String
        // As dd would create it: 0666 less the umask.
        do { temporary = try system.createTemporaryFile(in: directory, mode: 0o666, applyingUmask: true) } catch {
            throw StorageError(ImportFailure.createTemporary(directory: directory, error))
        }
        do throws(StorageError) {
            try receive(into: temporary, expected: expected, channel)
            do { try system.rename(temporary, to: path, replacing: false) } catch {
                if error == .fileExists { throw StorageError(ImageFailure.fileExists(path: path)) }
                throw StorageError(ImportFailure.publish(path: path, error))
            }
        } catch {
            try? system.removeFile(temporary)
            throw error
        }
    }

    // MARK: - Payload

    /// Granularity of holes: a block of zeros this large is skipped (left a hole).
    static let sparseBlock = 4096

    /// Copies the payload into the (new, empty) file at `path`, zero blocks as holes.
    /// With `expected`, the payload must be exactly that long, or (a raw file's size as
    /// qemu-img reports it is rounded up to whole sectors) end cleanly less than one
    /// sector before it. Returns the bytes written.
    @discardableResult
    func receive(into path: String, expected: UInt64?, _ channel: StreamChannel) throws(StorageError) -> Int64 {
        let target: Int32
        do { target = try system.openFile(path, writing: true) } catch {
            throw StorageError(ImportFailure.open(path: path, error))
        }
        defer { system.closeFile(target) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: StreamChannel.chunk, alignment: 16)
        defer { buffer.deallocate() }
        var offset: UInt64 = 0
        while true {
            let count = try channel.readFull(into: buffer)
            if let expected, offset + UInt64(count) > expected {
                throw StorageError(ImportFailure.streamTooLong(announced: expected))
            }
            try writeSparse(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), to: target, at: Int64(offset), path: path)
            offset += UInt64(count)
            channel.progress.advance(count)
            if count < buffer.count { break }
        }
        if let expected, offset != expected, !(expected % 512 == 0 && expected - offset < 512) {
            throw StorageError(ImportFailure.streamTooShort(received: offset, announced: expected))
        }
        do {
            try system.truncate(target, to: Int64(offset))
            try system.synchronize(target)
        } catch {
            throw StorageError(ImportFailure.write(path: path, error))
        }
        channel.progress.finish()
        return Int64(offset)
    }

    /// Writes the blocks of `data` that are not all zeros at `offset`; zero blocks stay holes.
    func writeSparse(_ data: UnsafeRawBufferPointer, to target: Int32, at offset: Int64, path: String) throws(StorageError) {
        var index = 0
        while index < data.count {
            // Skip zero blocks, then write the run of blocks that are not.
            var start = index
            while start < data.count, isAllZero(UnsafeRawBufferPointer(rebasing: data[start..<min(start + Self.sparseBlock, data.count)])) {
                start += Self.sparseBlock
            }
            guard start < data.count else { return }
            var end = start + Self.sparseBlock
            while end < data.count, !isAllZero(UnsafeRawBufferPointer(rebasing: data[end..<min(end + Self.sparseBlock, data.count)])) {
                end += Self.sparseBlock
            }
            end = min(end, data.count)
            var written = start
            while written < end {
                let count: Int
                do {
                    count = try system.writeDescriptor(target, from: UnsafeRawBufferPointer(rebasing: data[written..<end]), at: offset + Int64(written))
                } catch {
                    throw StorageError(ImportFailure.write(path: path, error))
                }
                guard count > 0 else { throw StorageError(ImportFailure.write(path: path, .ioError)) }
                written += count
            }
            index = end
        }
    }

    // MARK: - Untrusted images

    /// An imported qcow2 or vmdk must be a complete image of the announced size that
    /// refers to no other file: no backing file, no external data file, no extents
    /// outside itself; qcow2 images must also pass `qemu-img check`.
    func checkImportedImage(_ path: String, format: ImageFormat, announced: UInt64) throws(StorageError) {
        let length: Int64
        do { length = try system.status(path, followSymlinks: false).size } catch {
            throw StorageError(ImportFailure.stat(path: path, error))
        }
        let file = ImageFile(path: path, length: length, system: system)
        let header: ImageHeader
        do throws(ImageFormatError) {
            if format == .qcow2 {
                let map = try QCOW2ClusterMap(file: file)
                if map.layout.externalDataFile { throw ImageFormatError.unusable("refusing an image with an external data file") }
                header = ImageHeader(virtualSize: map.layout.virtualSize, backingFile: map.layout.backingFile)
            } else {
                header = try VMDK.readSelfContainedHeader(file)
            }
        } catch {
            throw StorageError(ImportFailure.unusableImage(format: format, error))
        }
        if let backing = header.backingFile {
            throw StorageError(ImportFailure.backingFile(format: format, path: backing))
        }
        guard UInt64(header.virtualSize) == announced else {
            throw StorageError(ImportFailure.sizeMismatch(virtualSize: header.virtualSize, announced: announced))
        }
        try checkWithQemuImg(path, format: format)
        if format == .qcow2 {
            let check = Command(QemuImg.executable, ["check", "-q", "-f", format.description, path], timeout: QemuImg.createTimeout)
            let result: CommandResult
            do { result = try system.run(check) } catch {
                throw StorageError(ImportFailure.runQemuImg(error))
            }
            // 0: clean; 3: only leaked clusters (harmless). Anything else: corrupt or unreadable.
            guard result.exitStatus == 0 || result.exitStatus == 3, result.interruption == nil, !result.timedOut else {
                if let signal = result.interruption { throw StorageError(ImportFailure.interrupted(signal: signal)) }
                let reason = result.errorText.isEmpty ? String(decoding: result.output, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
                    : result.errorText
                throw StorageError(ImportFailure.imageCheck(format: format, reason.isEmpty ? .exitStatus(result.exitStatus) : .complaint(reason)))
            }
        }
    }
}

extension DirectoryStorage {
    /// What QEMU itself opens with the image, as `qemu-img info` reports it (it never opens
    /// a backing file): refused unless the image names no backing file and no external
    /// data file, every vmdk extent is the file itself, and its size is not 0. The native
    /// checks come first; this one sees what they might miss (a parent named anywhere in a
    /// descriptor, a descriptor QEMU finds where we do not look).
    func checkWithQemuImg(_ path: String, format: ImageFormat) throws(StorageError) {
        let result: CommandResult
        do { result = try system.run(QemuImageInfo.command(path: path, format: format)) } catch {
            throw StorageError(ImportFailure.runQemuImg(error))
        }
        guard result.succeeded else {
            if let signal = result.interruption { throw StorageError(ImportFailure.interrupted(signal: signal)) }
            let last = String(decoding: result.errorOutput, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
            let finding: ImageCheckFinding = result.timedOut ? .timedOut : last.isEmpty ? .exitStatus(result.exitStatus)
                : .complaint(Self.escapingControls(last))
            throw StorageError(ImportFailure.imageCheck(format: format, finding))
        }
        guard let info = QemuImageInfo(json: result.output), info.filename == path, info.format == format.description else {
            throw StorageError(ImportFailure.imageCheck(format: format, .unexpectedInfo))
        }
        if let backing = info.backingFile {
            throw StorageError(ImportFailure.backingFile(format: format, path: backing))
        }
        if let dataFile = info.dataFile {
            throw StorageError(ImportFailure.externalDataFile(format: format, path: dataFile))
        }
        if format == .vmdk {
            guard let extents = info.extents, !extents.isEmpty else {
                throw StorageError(ImportFailure.imageCheck(format: format, .noExtents))
            }
            if let other = extents.first(where: { $0 != path }) {
                throw StorageError(ImportFailure.foreignExtent(path: other))
            }
        }
        guard info.virtualSize > 0 else { throw StorageError(ImportFailure.emptyImage(format: format)) }
    }
}
