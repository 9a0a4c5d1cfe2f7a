import PVEStorage

/// Replication of raw disks between two storages of this plugin on file systems that
/// share extents (XFS, btrfs): PVE's `storage_migrate` with `with_snapshots`, a
/// `snapshot` and, for an incremental round, a `base_snapshot`, negotiates `raw+size`,
/// which then carries a ``ReplicationStream`` of the snapshot's reflink copy: whole, or
/// only the ranges where it no longer shares extents with the base (``ExtentDiff``).
/// The target builds the new state in a reflink of its own copy of the base under a
/// hidden name, checks the stream's checksum, flushes, and publishes the snapshot, then
/// the volume, each by a rename: a failed or killed import leaves both as they were.
extension DirectoryStorage {
    /// Whether disks of `format` replicate here: raw disks where the storage makes
    /// reflinks (not with volume chains, whose storages refuse streams with snapshots).
    public func canReplicate(_ format: ImageFormat?) -> Bool {
        format == .raw && !config.snapshotAsVolumeChain && supportsReflinks()
    }

    /// Whether `volume` is a disk this storage replicates.
    func replicates(_ volume: VolumeName) -> Bool {
        volume.vtype == .images && volume.format == .image(.raw) && canReplicate(.raw)
    }

    /// The formats of a stream with snapshots: `raw+size` (the replication stream) for a
    /// replicating disk, nothing otherwise (as `dir`, which offers none).
    func replicationFormats(_ volname: String) -> [StreamFormat] {
        guard hasPath, let volume = try? VolumeName.parse(volname, for: host), replicates(volume) else { return [] }
        return [.raw]
    }

    // MARK: - Export

    /// Sends snapshot `snapshot` of the disk: whole, or what changed since `baseSnapshot`.
    func exportReplication(_ volname: String, snapshot: String, baseSnapshot: String?, to descriptor: Int32,
                           refusal: StorageError) throws(StorageError) {
        let (path, volume) = try filesystemPath(volname)
        guard hasPath, replicates(volume) else { throw refusal }
        let (source, sourceStatus, identity) = try openSnapshot(path, snapshot, of: volname)
        defer { system.closeFile(source) }
        var base: (descriptor: Int32, status: FileStatus, identity: SnapshotIdentity)?
        if let baseSnapshot {
            base = try openSnapshot(path, baseSnapshot, of: volname)
        }
        defer { if let base { system.closeFile(base.descriptor) } }

        let size = sourceStatus.size
        guard size > 0 else { throw StorageError(ReplicationFailure.emptySnapshot(name: snapshot, volname: volname)) }
        let ranges: [Range<Int64>]
        if let base {
            ranges = try changedRanges(from: base.descriptor, size: base.status.size, to: source, size: size, path: path)
        } else {
            ranges = [0..<size]
        }
        let planned = ranges.reduce(UInt64(0)) { $0 + UInt64($1.count) }
        let channel = StreamChannel(system: system, descriptor: descriptor, direction: .export, total: planned)
        defer { channel.end() }
        var writer = ReplicationStreamWriter(BufferedChannel(channel))
        try writer.writeHeader(ReplicationHeader(volumeSize: UInt64(size), snapshot: snapshot, identity: identity,
                                                 baseID: base?.identity.id))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ReplicationStream.maximumRecord, alignment: 16)
        defer { buffer.deallocate() }
        for range in ranges {
            try sendRange(range, of: source, path: path, holesAsRecords: base != nil, buffer: buffer, &writer)
        }
        try writer.finish()
        channel.progress.finish()
    }

    /// Opens the reflink snapshot `name` of the volume at `path`, with its identity, to export it.
    private func openSnapshot(_ path: String, _ name: String, of volname: String) throws(StorageError) -> (Int32, FileStatus, SnapshotIdentity) {
        let snapshotPath = Self.reflinkSnapshotPath(path, try SnapshotNames.validated(name))
        let descriptor: Int32
        do { descriptor = try system.openFile(snapshotPath, writing: false) } catch {
            if error == .noSuchFileOrDirectory {
                throw StorageError(ReplicationFailure.snapshotMissing(name: name, volname: volname))
            }
            throw StorageError(ExportFailure.open(path: snapshotPath, error))
        }
        do throws(StorageError) {
            let status: FileStatus
            do throws(Errno) {
                status = try system.status(of: descriptor)
                guard status.kind == .regular else { throw .invalidArgument }
            } catch {
                throw StorageError(ReplicationFailure.unusableSnapshotFile(path: snapshotPath, error))
            }
            return (descriptor, status, try reflinkSnapshotIdentity(snapshotPath, status: status))
        } catch {
            system.closeFile(descriptor)
            throw error
        }
    }

    /// The ranges of the newer snapshot that may differ from the base: by extent maps
    /// where the file system has them, else by comparing contents; beyond the base's
    /// size everything. In windows, so that a fragmented disk's maps stay small.
    func changedRanges(from base: Int32, size baseSize: Int64, to snapshot: Int32, size: Int64,
                       path: String) throws(StorageError) -> [Range<Int64>] {
        let window: Int64 = 1 << 32
        var ranges: [Range<Int64>] = []
        var start: Int64 = 0
        while start < size {
            let end = min(start + window, size)
            let common = min(end, baseSize)
            if start < common {
                do {
                    let old = try system.extents(of: base, from: start, count: common - start)
                    let new = try system.extents(of: snapshot, from: start, count: common - start)
                    ranges += ExtentDiff.changedRanges(old: old, new: new, in: start..<common)
                } catch {
                    ranges += try changedByContent(base, snapshot, in: start..<common, path: path)
                }
            }
            if max(start, common) < end { ranges.append(max(start, common)..<end) }
            start = end
        }
        return ExtentDiff.coalesced(ranges, gap: 1)
    }

    /// Where the extent maps say nothing: the 64 KiB blocks whose bytes differ.
    func changedByContent(_ base: Int32, _ snapshot: Int32, in range: Range<Int64>, path: String) throws(StorageError) -> [Range<Int64>] {
        let chunk = StreamChannel.chunk, block = 1 << 16
        let old = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        let new = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { old.deallocate(); new.deallocate() }
        var ranges: [Range<Int64>] = []
        var position = range.lowerBound
        while position < range.upperBound {
            let count = Int(min(Int64(chunk), range.upperBound - position))
            let oldCount = try readFully(base, into: UnsafeMutableRawBufferPointer(rebasing: old[0..<count]), at: position, path: path)
            let newCount = try readFully(snapshot, into: UnsafeMutableRawBufferPointer(rebasing: new[0..<count]), at: position, path: path)
            var index = 0
            while index < count {
                let end = min(index + block, count)
                let same = index < min(oldCount, newCount) && end <= min(oldCount, newCount)
                    && UnsafeRawBufferPointer(rebasing: old[index..<end]).elementsEqual(UnsafeRawBufferPointer(rebasing: new[index..<end]))
                if !same {
                    let changed = (position + Int64(index))..<(position + Int64(end))
                    if let last = ranges.last, last.upperBound == changed.lowerBound {
                        ranges[ranges.count - 1] = last.lowerBound..<changed.upperBound
                    } else {
                        ranges.append(changed)
                    }
                }
                index = end
            }
            position += Int64(count)
        }
        return ranges
    }

    /// Reads until `buffer` is full or the file ends; returns the bytes read.
    private func readFully(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64,
                           path: String) throws(StorageError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let count: Int
            do {
                count = try system.readDescriptor(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]),
                                                  at: offset + Int64(filled))
            } catch {
                throw StorageError(ExportFailure.read(path: path, error))
            }
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    /// Ranges up to this size are read whole, holes included.
    static let seekThreshold: Int64 = 1 << 20

    /// The next run of data at or after `position` and before `limit` (`limit` twice when
    /// there is none); without SEEK_DATA, or when it fails, everything is data.
    private func nextData(in file: Int32, from position: Int64, before limit: Int64) -> (start: Int64, end: Int64) {
        let data: Int64?
        do { data = try system.seek(file, from: position, hole: false) } catch { return (position, limit) }
        let start = min(data ?? limit, limit)
        guard start < limit else { return (limit, limit) }
        let hole: Int64?
        do { hole = try system.seek(file, from: start, hole: true) } catch { return (start, limit) }
        return (start, min(hole ?? limit, limit))
    }

    /// One range of the snapshot: its data as data records, its holes as zero records
    /// (an incremental stream: the target's base may have data there) or not at all (a
    /// full stream starts from an empty file).
    private func sendRange(_ range: Range<Int64>, of source: Int32, path: String, holesAsRecords: Bool,
                           buffer: UnsafeMutableRawBufferPointer,
                           _ writer: inout ReplicationStreamWriter<BufferedChannel>) throws(StorageError) {
        var position = range.lowerBound
        while position < range.upperBound {
            // A small range is sent as data (holes read as zeros, which the target
            // punches): two seeks would cost more than reading it.
            let (dataStart, dataEnd) = range.count <= Self.seekThreshold ? (position, range.upperBound)
                : nextData(in: source, from: position, before: range.upperBound)
            if dataStart > position, holesAsRecords {
                try writer.writeZero(at: UInt64(position), length: UInt64(dataStart - position))
            }
            var offset = dataStart
            while offset < dataEnd {
                let count = Int(min(Int64(buffer.count), dataEnd - offset))
                let read = try readFully(source, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]), at: offset, path: path)
                // A file that shrank under the export: its snapshot was changed, which no caller does.
                guard read == count else { throw StorageError(ReplicationFailure.changedDuringExport(path: path)) }
                try writer.writeData(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), at: UInt64(offset))
                offset += Int64(count)
            }
            position = max(dataEnd, dataStart)
        }
    }
}

/// The stream channel in pieces of up to ``capacity`` bytes: records are small (13 to
/// 17 bytes of fields, often 4 KiB of data), and each read or write of the channel is a
/// poll and a system call.
final class BufferedChannel: ReplicationOutput, ReplicationInput {
    let channel: StreamChannel
    static let capacity = 1 << 20
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: BufferedChannel.capacity, alignment: 16)
    /// Output: the bytes held. Input: the bytes read ahead, `start..<end`.
    private var start = 0, end = 0

    init(_ channel: StreamChannel) { self.channel = channel }
    deinit { buffer.deallocate() }

    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        // Large data goes out as it is, after what is held.
        if end + bytes.count > Self.capacity || bytes.count >= Self.capacity / 2 { try flush() }
        if bytes.count >= Self.capacity / 2 {
            try channel.writeAll(bytes)
            return
        }
        UnsafeMutableRawBufferPointer(rebasing: buffer[end..<(end + bytes.count)]).copyMemory(from: bytes)
        end += bytes.count
    }

    func flush() throws(StorageError) {
        guard end > 0 else { return }
        try channel.writeAll(UnsafeRawBufferPointer(rebasing: buffer[0..<end]))
        end = 0
    }

    /// Fills `target` from what was read ahead, reading more as needed; less only at the end.
    func read(into target: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        var filled = 0
        while filled < target.count {
            if start == end {
                start = 0
                end = try channel.readSome(into: buffer)
                guard end > 0 else { break }
                channel.progress.advance(end)
            }
            let count = min(end - start, target.count - filled)
            UnsafeMutableRawBufferPointer(rebasing: target[filled..<(filled + count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)]))
            start += count
            filled += count
        }
        return filled
    }
}

// MARK: - Import

extension DirectoryStorage {
    /// Receives a replication stream into the disk `volname`: a full stream makes the
    /// volume (which must not exist) and its snapshot; an incremental one needs the
    /// base snapshot the stream names, with the same id. Returns the volid.
    func importReplication(_ volname: String, snapshot: String?, baseSnapshot: String?,
                           from descriptor: Int32) throws(StorageError) -> String {
        let (path, volume) = try filesystemPath(volname)
        guard replicates(volume) else { throw StorageError(ImportFailure.snapshotsUnsupported(.raw)) }
        let vmid = volume.vmid ?? ""
        let directory = try imageDirectory(vmid: vmid)
        let channel = StreamChannel(system: system, descriptor: descriptor, direction: .import, total: nil)
        defer { channel.end() }
        var reader = ReplicationStreamReader(BufferedChannel(channel))
        let header = try Self.replicationStep { () throws(ReplicationStreamReader<BufferedChannel>.Failure) in try reader.readHeader() }
        if let snapshot, snapshot != header.snapshot {
            throw StorageError(ReplicationFailure.snapshotMismatch(carried: header.snapshot, requested: snapshot))
        }
        let snapshotPath = Self.reflinkSnapshotPath(path, header.snapshot)
        guard system.isGone(snapshotPath) else { throw StorageError(ReplicationFailure.snapshotExists(name: header.snapshot, volname: volname)) }

        let temporary: String
        switch (baseSnapshot, header.baseID) {
        case (nil, nil):
            guard system.isGone(path) else { throw StorageError(ImageFailure.fileExists(path: path)) }
            try refuseLeftoverSnapshots(at: path)
            do { try system.makeDirectories(directory) } catch {
                throw StorageError(ImageFailure.mkdir(path: directory, error))
            }
            system.reclaimStaleTemporaries(in: directory)
            temporary = try newTemporary(in: directory, removingEmpty: true)
        case (let base?, let baseID?):
            let basePath = Self.reflinkSnapshotPath(path, try SnapshotNames.validated(base))
            let status: FileStatus
            do { status = try system.status(basePath, followSymlinks: false) } catch {
                throw StorageError(ReplicationFailure.baseSnapshotMissing(name: base, volname: volname, error))
            }
            let identity = try reflinkSnapshotIdentity(basePath, status: status)
            guard identity.id == baseID else {
                throw StorageError(ReplicationFailure.notTheBase(name: base, volname: volname, localID: identity.id, streamID: baseID))
            }
            system.reclaimStaleTemporaries(in: directory)
            temporary = try newTemporary(in: directory, removingEmpty: false)
            do { try system.cloneFile(basePath, into: temporary) } catch {
                try? system.removeFile(temporary)
                throw StorageError(ReplicationFailure.reflinkCopy(path: basePath, error))
            }
        case (nil, _?):
            throw StorageError(ReplicationFailure.incrementalWithoutBase)
        case (let base?, nil):
            throw StorageError(ReplicationFailure.notIncremental(base: base))
        }

        do throws(StorageError) {
            try receiveReplication(&reader, into: temporary, size: header.volumeSize, fresh: header.baseID == nil)
            try reflinkCopy(of: temporary, to: snapshotPath, replacing: false,
                            exists: StorageError(ReplicationFailure.snapshotExists(name: header.snapshot, volname: volname))) { copy throws(StorageError) in
                do throws(Errno) { try system.setExtendedAttribute(SnapshotIdentity.attribute, of: copy, to: header.identity.encoded) } catch {
                    throw StorageError(ReplicationFailure.recordIdentity(snapshot: header.snapshot, error))
                }
            }
            do { try system.rename(temporary, to: path, replacing: header.baseID != nil) } catch {
                // The snapshot was published alone: without its volume it must not stay.
                try? system.removeFile(snapshotPath)
                if error == .fileExists { throw StorageError(ImageFailure.fileExists(path: path)) }
                throw StorageError(ImportFailure.publish(path: path, error))
            }
        } catch {
            try? system.removeFile(temporary)
            if header.baseID == nil { try? system.removeDirectory(directory) }
            throw error
        }
        return "\(id):\(volname)"
    }

    /// A reader's failure as the storage's error.
    static func replicationStep<T>(_ body: () throws(ReplicationStreamReader<BufferedChannel>.Failure) -> T) throws(StorageError) -> T {
        do { return try body() } catch {
            switch error {
            case .stream(let failure): throw StorageError(ReplicationFailure.stream(failure))
            case .input(let failure): throw failure
            }
        }
    }

    /// Applies the records to `temporary` (a fresh empty file, or a reflink of the base),
    /// sized to the stream's volume size; the trailer is checked and the file flushed.
    private func receiveReplication(_ reader: inout ReplicationStreamReader<BufferedChannel>, into temporary: String,
                                    size: UInt64, fresh: Bool) throws(StorageError) {
        let target: Int32
        do { target = try system.openFile(temporary, writing: true) } catch {
            throw StorageError(ImportFailure.open(path: temporary, error))
        }
        defer { system.closeFile(target) }
        let failed = { (error: Errno) in StorageError(ImportFailure.write(path: temporary, error)) }
        do { try system.truncate(target, to: Int64(size)) } catch { throw failed(error) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ReplicationStream.maximumRecord, alignment: 16)
        defer { buffer.deallocate() }
        while let record = try Self.replicationStep({ () throws(ReplicationStreamReader<BufferedChannel>.Failure) in
            try reader.next(into: buffer)
        }) {
            switch record {
            case .data(let offset, let length):
                try writeBlocks(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), to: target, at: Int64(offset),
                                zerosAreHoles: fresh, path: temporary)
            case .zero(let offset, let length):
                // A fresh file reads zeros there already.
                if !fresh { try zeroRange(target, at: Int64(offset), count: Int64(length), path: temporary) }
            }
        }
        do { try system.synchronize(target) } catch { throw failed(error) }
        reader.input.channel.progress.finish()
    }

    /// Writes the blocks of `data` that are not all zeros; zero blocks become holes: left
    /// alone in a fresh file, punched in a copy of the base.
    private func writeBlocks(_ data: UnsafeRawBufferPointer, to target: Int32, at offset: Int64, zerosAreHoles: Bool,
                             path: String) throws(StorageError) {
        var index = 0
        while index < data.count {
            let end = min(index + Self.sparseBlock, data.count)
            let zero = isAllZero(UnsafeRawBufferPointer(rebasing: data[index..<end]))
            var runEnd = end
            while runEnd < data.count {
                let next = min(runEnd + Self.sparseBlock, data.count)
                guard isAllZero(UnsafeRawBufferPointer(rebasing: data[runEnd..<next])) == zero else { break }
                runEnd = next
            }
            if zero {
                if !zerosAreHoles { try zeroRange(target, at: offset + Int64(index), count: Int64(runEnd - index), path: path) }
            } else {
                try writeSparse(UnsafeRawBufferPointer(rebasing: data[index..<runEnd]), to: target, at: offset + Int64(index), path: path)
            }
            index = runEnd
        }
    }

    /// Makes a range read as zeros: a hole where the file system punches one, else zeros written.
    private func zeroRange(_ target: Int32, at offset: Int64, count: Int64, path: String) throws(StorageError) {
        do {
            try system.punchHole(target, at: offset, count: count)
            return
        } catch {
            guard [.notSupported, .invalidArgument, .notImplemented].contains(error) else {
                throw StorageError(ImportFailure.write(path: path, error))
            }
        }
        let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: StreamChannel.chunk, alignment: 16)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        var position = offset
        while position < offset + count {
            let length = Int(min(Int64(zeros.count), offset + count - position))
            let written: Int
            do { written = try system.writeDescriptor(target, from: UnsafeRawBufferPointer(rebasing: zeros[0..<length]), at: position) } catch {
                throw StorageError(ImportFailure.write(path: path, error))
            }
            guard written > 0 else { throw StorageError(ImportFailure.write(path: path, .ioError)) }
            position += Int64(written)
        }
    }
}
