/// The internal snapshots of a qcow2 image, read from its snapshot table (QEMU's
/// docs/interop/qcow2.txt, "Snapshots"), where `dir` runs `qemu-img info` per call.
extension QCOW2 {
    /// One entry of the snapshot table, as `qemu-img info` reports it.
    public struct Snapshot: Equatable, Sendable {
        /// The unique ID string QEMU gives each snapshot ("1", "2", ...).
        public var id: String
        public var name: String
        /// When it was taken (seconds since the epoch; qemu-img's `date-sec`).
        public var dateSeconds: UInt32
        /// The disk's virtual size when it was taken; the image's size for entries
        /// written before QEMU recorded it.
        public var virtualSize: Int64
    }

    /// QEMU's limits: at most this many snapshots, in a table of at most this size, with
    /// at most this much extra data per entry.
    static let maximumSnapshots: UInt64 = 65536
    static let maximumSnapshotTableBytes: UInt64 = 64 << 20
    static let maximumSnapshotExtraData: UInt64 = 1024
    /// The fixed part of a table entry.
    static let snapshotEntryHeader = 40

    /// The snapshot table of a qcow2 image, in table order. Every offset and length comes
    /// from the untrusted file and is checked before it is used.
    public static func readSnapshots(_ file: ImageFile) throws(ImageFormatError) -> [Snapshot] {
        try readSnapshots(file, header: Header(reading: file))
    }

    /// The snapshot table `header` (of `file`) points to.
    public static func readSnapshots(_ file: ImageFile, header: Header) throws(ImageFormatError) -> [Snapshot] {
        let count = header.snapshotCount, offset = header.snapshotsOffset
        guard count > 0 else { return [] }
        guard count <= maximumSnapshots else { throw ImageFormatError.unusable("Too many snapshots") }
        // The header reader accepted the cluster bits (9...21): the shift cannot overflow.
        let clusterMask = (UInt64(1) << UInt64(header.clusterBits)) - 1
        guard offset & clusterMask == 0, offset <= UInt64(Int64.max) else {
            throw ImageFormatError.unusable("Invalid snapshot table offset")
        }

        var reader = TableReader(file: file, start: Int64(offset))
        var snapshots: [Snapshot] = []
        snapshots.reserveCapacity(Int(min(count, 256)))
        for _ in 0..<count {
            let entry = try reader.take(snapshotEntryHeader)
            guard let idLength = ByteFields.bigEndian(entry, at: 12, width: 2),
                  let nameLength = ByteFields.bigEndian(entry, at: 14, width: 2),
                  let date = ByteFields.bigEndian(entry, at: 16, width: 4),
                  let extraLength = ByteFields.bigEndian(entry, at: 36, width: 4)
            else { throw ImageFormatError.unusable("Failed to read snapshot table") }
            guard extraLength <= maximumSnapshotExtraData else { throw ImageFormatError.unusable("Too much extra metadata in snapshot table entry") }
            let extra = try reader.take(Int(extraLength))
            let id = try reader.take(Int(idLength))
            let name = try reader.take(Int(nameLength))
            try reader.align(to: 8)
            var size = header.virtualSize
            if let recorded = ByteFields.bigEndian(extra, at: 8, width: 8) {
                guard recorded <= UInt64(Int64.max) else { throw ImageFormatError.unusable("Invalid snapshot disk size") }
                size = Int64(recorded)
            }
            snapshots.append(Snapshot(id: ByteFields.string(id), name: ByteFields.string(name),
                                      dateSeconds: UInt32(truncatingIfNeeded: date), virtualSize: size))
            guard reader.consumed <= maximumSnapshotTableBytes else { throw ImageFormatError.unusable("Snapshot table too large") }
        }
        return snapshots
    }

    /// Sequential reads through the table, a window at a time (a table is a few hundred
    /// bytes; one read usually covers it).
    struct TableReader {
        let file: ImageFile
        let start: Int64
        var consumed: UInt64 = 0
        var window: [UInt8] = []
        var windowStart: UInt64 = 0
        static let windowSize = 64 << 10

        init(file: ImageFile, start: Int64) {
            self.file = file
            self.start = start
        }

        mutating func take(_ count: Int) throws(ImageFormatError) -> [UInt8] {
            guard count > 0 else { return [] }
            let end = consumed + UInt64(count)
            guard end <= maximumSnapshotTableBytes else { throw ImageFormatError.unusable("Snapshot table too large") }
            if consumed < windowStart || end > windowStart + UInt64(window.count) {
                // Bounded above: start <= Int64.max, consumed < 64 MiB; bytes(at:) checks the file's length.
                let (position, overflow) = start.addingReportingOverflow(Int64(consumed))
                guard !overflow else { throw ImageFormatError.unusable("Failed to read snapshot table") }
                let available = max(0, file.length - position)
                let length = Int(min(Int64(max(count, Self.windowSize)), available))
                let bytes: [UInt8]?
                do { bytes = try file.bytes(at: position, count: length) } catch {
                    throw ImageFormatError.unusable("Failed to read snapshot table: \(error)")
                }
                guard let bytes, bytes.count >= count else { throw ImageFormatError.unusable("Failed to read snapshot table") }
                window = bytes
                windowStart = consumed
            }
            let from = Int(consumed - windowStart)
            consumed = end
            return Array(window[from..<(from + count)])
        }

        /// Skips the padding after an entry (not read: the last entry's may be past the end).
        mutating func align(to alignment: UInt64) throws(ImageFormatError) {
            consumed += (alignment - consumed % alignment) % alignment
        }
    }
}
