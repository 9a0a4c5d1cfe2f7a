import PVEStorage

/// The stream a raw disk replicates by: PVE's `raw+size` format name with snapshots,
/// which `dir` never offers, so only two storages of this plugin ever agree on it.
///
/// Layout, all numbers little-endian:
///
///     header   "PVESWREP" | version u32 = 1 | flags u32 = 0 | volume size u64
///              | snapshot timestamp i64 | name length u16 | id length u16
///              | base id length u16 (0: a full stream) | reserved u16 = 0
///              | name | id | base id
///     records  0x01 data: offset u64 | length u32 (1 ... 1 MiB) | bytes
///              0x02 zero: offset u64 | length u64 (reads as zeros: a hole)
///              0x00 end
///     trailer  XXH64 (seed 0) of every byte before it, u64
///
/// Records are in ascending order and never overlap, and lie within the volume size.
/// A full stream starts from an empty file of the volume's size; an incremental one
/// from the target's copy of the base snapshot, whose id it names.
public enum ReplicationStream {
    public static let magic: [UInt8] = Array("PVESWREP".utf8)
    public static let version: UInt32 = 1
    /// The largest data record: one read of the stream channel.
    public static let maximumRecord = 1 << 20
    public static let fixedHeaderLength = 40
    public static let maximumIDLength = 64

    enum RecordType: UInt8 {
        case end = 0x00
        case data = 0x01
        case zero = 0x02
    }
}

/// What a replication stream says about the snapshot it carries.
public struct ReplicationHeader: Equatable, Sendable {
    /// The disk's size in the snapshot, in bytes.
    public var volumeSize: UInt64
    public var snapshot: String
    public var identity: SnapshotIdentity
    /// The id of the base snapshot an incremental stream applies to; nil for a full one.
    public var baseID: String?

    public init(volumeSize: UInt64, snapshot: String, identity: SnapshotIdentity, baseID: String?) {
        self.volumeSize = volumeSize
        self.snapshot = snapshot
        self.identity = identity
        self.baseID = baseID
    }

    public func encoded() -> [UInt8] {
        var bytes = ReplicationStream.magic
        bytes.appendLittleEndian(UInt64(ReplicationStream.version), width: 4)
        bytes.appendLittleEndian(0, width: 4)
        bytes.appendLittleEndian(volumeSize, width: 8)
        bytes.appendLittleEndian(UInt64(bitPattern: identity.timestamp), width: 8)
        let name = Array(snapshot.utf8), id = Array(identity.id.utf8), base = Array((baseID ?? "").utf8)
        for field in [name, id, base] { bytes.appendLittleEndian(UInt64(field.count), width: 2) }
        bytes.appendLittleEndian(0, width: 2)
        return bytes + name + id + base
    }
}

/// One record of a replication stream.
public enum ReplicationRecord: Equatable, Sendable {
    /// `length` bytes at `offset`, which the reader put at the start of its buffer.
    case data(offset: UInt64, length: Int)
    /// `length` bytes at `offset` read as zeros.
    case zero(offset: UInt64, length: UInt64)
}

/// Why a replication stream was refused, before anything it carried was published.
public enum ReplicationStreamError: Error, Hashable, Sendable, CustomStringConvertible {
    case notAReplicationStream
    case unsupportedVersion(UInt32)
    case endedEarly
    case invalidHeader(String)
    case invalidRecord(offset: UInt64, reason: String)
    case checksumMismatch
    case trailingData

    public var description: String {
        switch self {
        case .notAReplicationStream:
            return "not a replication stream of this plugin (raw+size with snapshots)"
        case .unsupportedVersion(let version):
            return "replication stream version \(version) is not supported (this plugin reads version \(ReplicationStream.version))"
        case .endedEarly:
            return "the replication stream ended early"
        case .invalidHeader(let reason):
            return "invalid replication stream header - \(reason)"
        case .invalidRecord(let offset, let reason):
            return "invalid replication stream record at stream byte \(offset) - \(reason)"
        case .checksumMismatch:
            return "the replication stream's checksum does not match (damaged in transit)"
        case .trailingData:
            return "data after the end of the replication stream"
        }
    }
}

/// Where a stream's bytes come from: `read` fills `buffer` as far as it can and returns
/// less only at the end of the stream.
public protocol ReplicationInput {
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int
}

/// Reads and checks a replication stream: the header, then one record at a time, and
/// at the end the trailer. Every number from the stream is checked before it is used.
public struct ReplicationStreamReader<Input: ReplicationInput> {
    public private(set) var input: Input
    private var hasher = XXHash64()
    /// Bytes of the stream consumed (for messages).
    private var consumed: UInt64 = 0
    private var volumeSize: UInt64 = 0
    /// Where the previous record ended: records ascend and never overlap.
    private var previousEnd: UInt64 = 0
    private var finished = false

    public init(_ input: Input) { self.input = input }

    public enum Failure: Error {
        case stream(ReplicationStreamError)
        case input(StorageError)
    }

    /// Exactly `buffer.count` bytes, hashed.
    private mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(Failure) {
        let count: Int
        do { count = try input.read(into: buffer) } catch { throw .input(error) }
        guard count == buffer.count else { throw .stream(.endedEarly) }
        hasher.update(UnsafeRawBufferPointer(buffer))
        consumed += UInt64(count)
    }

    private mutating func bytes(_ count: Int) throws(Failure) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var failure: Failure?
        bytes.withUnsafeMutableBytes { buffer in
            do throws(Failure) { try fill(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    public mutating func readHeader() throws(Failure) -> ReplicationHeader {
        let fixed = try bytes(ReplicationStream.fixedHeaderLength)
        guard Array(fixed[0..<8]) == ReplicationStream.magic else { throw .stream(.notAReplicationStream) }
        let field = { (offset: Int, width: Int) -> UInt64 in ByteFields.littleEndian(fixed, at: offset, width: width) ?? 0 }
        let version = UInt32(truncatingIfNeeded: field(8, 4))
        guard version == ReplicationStream.version else { throw .stream(.unsupportedVersion(version)) }
        guard field(12, 4) == 0 else { throw .stream(.invalidHeader("unknown flags \(field(12, 4))")) }
        let size = field(16, 8)
        guard size > 0, size <= UInt64(Int64.max) else { throw .stream(.invalidHeader("volume size \(size)")) }
        let timestamp = Int64(bitPattern: field(24, 8))
        let lengths = [Int(field(32, 2)), Int(field(34, 2)), Int(field(36, 2))]
        guard field(38, 2) == 0 else { throw .stream(.invalidHeader("reserved field not 0")) }
        guard lengths[0] <= SnapshotNames.maximumLength, lengths[1] <= ReplicationStream.maximumIDLength,
              lengths[2] <= ReplicationStream.maximumIDLength else {
            throw .stream(.invalidHeader("a name or id is too long"))
        }
        let name = String(validating: try bytes(lengths[0]), as: UTF8.self) ?? ""
        let id = String(validating: try bytes(lengths[1]), as: UTF8.self) ?? ""
        let base = String(validating: try bytes(lengths[2]), as: UTF8.self)
        guard SnapshotNames.isValid(name) else { throw .stream(.invalidHeader("invalid snapshot name")) }
        guard SnapshotIdentity.isValidID(id) else { throw .stream(.invalidHeader("invalid snapshot id")) }
        guard let base, base.isEmpty || SnapshotIdentity.isValidID(base) else {
            throw .stream(.invalidHeader("invalid base snapshot id"))
        }
        volumeSize = size
        return ReplicationHeader(volumeSize: size, snapshot: name, identity: SnapshotIdentity(id: id, timestamp: timestamp),
                                 baseID: base.isEmpty ? nil : base)
    }

    /// The next record, nil after the end record and a matching trailer (and nothing
    /// after it). A data record's bytes are at the start of `buffer`, which must hold
    /// ``ReplicationStream/maximumRecord`` bytes.
    public mutating func next(into buffer: UnsafeMutableRawBufferPointer) throws(Failure) -> ReplicationRecord? {
        guard !finished else { return nil }
        let at = consumed
        let type = try bytes(1)[0]
        switch ReplicationStream.RecordType(rawValue: type) {
        case .end:
            let expected = hasher.finalize()
            let trailer = try bytes(8)
            guard ByteFields.littleEndian(trailer, at: 0, width: 8) == expected else { throw .stream(.checksumMismatch) }
            var probe: UInt8 = 0
            let extra: Int
            do { extra = try withUnsafeMutableBytes(of: &probe) { (byte) throws(StorageError) -> Int in try input.read(into: byte) } } catch {
                throw .input(error)
            }
            guard extra == 0 else { throw .stream(.trailingData) }
            finished = true
            return nil
        case .data:
            let fields = try bytes(12)
            let offset = ByteFields.littleEndian(fields, at: 0, width: 8) ?? 0
            let length = Int(ByteFields.littleEndian(fields, at: 8, width: 4) ?? 0)
            guard length > 0, length <= ReplicationStream.maximumRecord, length <= buffer.count else {
                throw .stream(.invalidRecord(offset: at, reason: "data length \(length)"))
            }
            try place(offset: offset, length: UInt64(length), at: at)
            try fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]))
            return .data(offset: offset, length: length)
        case .zero:
            let fields = try bytes(16)
            let offset = ByteFields.littleEndian(fields, at: 0, width: 8) ?? 0
            let length = ByteFields.littleEndian(fields, at: 8, width: 8) ?? 0
            guard length > 0 else { throw .stream(.invalidRecord(offset: at, reason: "zero length 0")) }
            try place(offset: offset, length: length, at: at)
            return .zero(offset: offset, length: length)
        case nil:
            throw .stream(.invalidRecord(offset: at, reason: "unknown record type \(type)"))
        }
    }

    /// A record's range must follow the previous one and end within the volume.
    private mutating func place(offset: UInt64, length: UInt64, at: UInt64) throws(Failure) {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= volumeSize else {
            throw .stream(.invalidRecord(offset: at, reason: "range \(offset)+\(length) outside the volume of \(volumeSize) bytes"))
        }
        guard offset >= previousEnd else {
            throw .stream(.invalidRecord(offset: at, reason: "range \(offset)+\(length) before the end of the previous one"))
        }
        previousEnd = end
    }
}

/// Where a stream's bytes go.
public protocol ReplicationOutput {
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError)
    /// Sends what a buffering output holds back (the writer calls it at the end).
    mutating func flush() throws(StorageError)
}

extension ReplicationOutput {
    public mutating func flush() throws(StorageError) {}
}

/// Writes a replication stream: the header, records in ascending order, the end and
/// the trailer; data longer than a record is split.
public struct ReplicationStreamWriter<Output: ReplicationOutput> {
    public private(set) var output: Output
    private var hasher = XXHash64()

    public init(_ output: Output) { self.output = output }

    private mutating func emit(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        hasher.update(bytes)
        try output.write(bytes)
    }

    private mutating func emit(_ bytes: [UInt8]) throws(StorageError) {
        var failure: StorageError?
        bytes.withUnsafeBytes { buffer in
            do throws(StorageError) { try emit(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public mutating func writeHeader(_ header: ReplicationHeader) throws(StorageError) {
        try emit(header.encoded())
    }

    /// `data` at `offset`, in records of at most ``ReplicationStream/maximumRecord`` bytes.
    public mutating func writeData(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws(StorageError) {
        var index = 0
        while index < data.count {
            let length = min(ReplicationStream.maximumRecord, data.count - index)
            var fields = [ReplicationStream.RecordType.data.rawValue]
            fields.appendLittleEndian(offset + UInt64(index), width: 8)
            fields.appendLittleEndian(UInt64(length), width: 4)
            try emit(fields)
            try emit(UnsafeRawBufferPointer(rebasing: data[index..<(index + length)]))
            index += length
        }
    }

    public mutating func writeZero(at offset: UInt64, length: UInt64) throws(StorageError) {
        guard length > 0 else { return }
        var fields = [ReplicationStream.RecordType.zero.rawValue]
        fields.appendLittleEndian(offset, width: 8)
        fields.appendLittleEndian(length, width: 8)
        try emit(fields)
    }

    public mutating func finish() throws(StorageError) {
        try emit([ReplicationStream.RecordType.end.rawValue])
        var trailer: [UInt8] = []
        trailer.appendLittleEndian(hasher.finalize(), width: 8)
        var failure: StorageError?
        trailer.withUnsafeBytes { buffer in
            do throws(StorageError) { try output.write(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
        try output.flush()
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian(_ value: UInt64, width: Int) {
        for index in 0..<width { append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }
}
