import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

#if canImport(Glibc)
import Glibc
#endif

// MARK: - The stream's ends in memory

/// Where a test's stream goes: every byte kept.
struct ByteOutput: ReplicationOutput {
    var bytes: [UInt8] = []
    mutating func write(_ buffer: UnsafeRawBufferPointer) throws(StorageError) { bytes.append(contentsOf: buffer) }
}

/// Where a test's stream comes from: `bytes`, then the end.
struct ByteInput: ReplicationInput {
    let bytes: [UInt8]
    var position = 0

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        let count = min(buffer.count, bytes.count - position)
        if count > 0 {
            bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[position..<(position + count)])) }
        }
        position += count
        return count
    }
}

extension ReplicationStreamWriter {
    mutating func writeData(_ bytes: [UInt8], at offset: UInt64) throws(StorageError) {
        var failure: StorageError?
        bytes.withUnsafeBytes { buffer in
            do throws(StorageError) { try writeData(buffer, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

/// Replication streams made and read in memory.
enum ReplicationStreams {
    /// The stream the writer makes of `header` and the records `records` writes.
    static func build(_ header: ReplicationHeader,
                      _ records: (inout ReplicationStreamWriter<ByteOutput>) throws(StorageError) -> Void = { _ in }) -> [UInt8] {
        var writer = ReplicationStreamWriter(ByteOutput())
        do throws(StorageError) {
            try writer.writeHeader(header)
            try records(&writer)
            try writer.finish()
        } catch {
            preconditionFailure("writing to memory failed: \(error)")
        }
        return writer.output.bytes
    }

    /// One record as read, with its data.
    enum Record: Equatable, CustomStringConvertible {
        case data(UInt64, [UInt8])
        case zero(UInt64, UInt64)

        var description: String {
            switch self {
            case .data(let offset, let bytes): return "data \(offset)+\(bytes.count)"
            case .zero(let offset, let length): return "zero \(offset)+\(length)"
            }
        }
    }

    /// A whole stream read: its header and records, or the reader's refusal.
    static func read(_ bytes: [UInt8], buffer size: Int = ReplicationStream.maximumRecord)
        -> Result<(header: ReplicationHeader, records: [Record]), ReplicationStreamError> {
        var reader = ReplicationStreamReader(ByteInput(bytes: bytes))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        do throws(ReplicationStreamReader<ByteInput>.Failure) {
            let header = try reader.readHeader()
            var records: [Record] = []
            while let record = try reader.next(into: buffer) {
                switch record {
                case .data(let offset, let length): records.append(.data(offset, Array(buffer[0..<length])))
                case .zero(let offset, let length): records.append(.zero(offset, length))
                }
            }
            let after = try reader.next(into: buffer)
            precondition(after == nil, "records after the end")
            return .success((header, records))
        } catch {
            switch error {
            case .stream(let refusal): return .failure(refusal)
            case .input(let failure): preconditionFailure("memory cannot fail: \(failure)")
            }
        }
    }

    /// Why the reader refuses `bytes`; nil when it reads them.
    static func refusal(_ bytes: [UInt8], buffer size: Int = ReplicationStream.maximumRecord) -> ReplicationStreamError? {
        if case .failure(let error) = read(bytes, buffer: size) { return error }
        return nil
    }

    /// The message of the refusal, as the import reports it after `import: `.
    static func message(_ bytes: [UInt8], buffer size: Int = ReplicationStream.maximumRecord) -> String? {
        refusal(bytes, buffer: size)?.description
    }
}

/// Bytes of a stream put together by hand (what no writer makes), ended by `end()`
/// with a correct trailer, so that only the structure can be wrong.
struct HandmadeStream {
    var bytes: [UInt8]

    init(_ header: ReplicationHeader) { bytes = header.encoded() }
    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func data(_ offset: UInt64, length: UInt64, _ payload: [UInt8] = []) {
        bytes.append(ReplicationStream.RecordType.data.rawValue)
        bytes.appendLittleEndian(offset, width: 8)
        bytes.appendLittleEndian(length, width: 4)
        bytes += payload
    }

    mutating func zero(_ offset: UInt64, length: UInt64) {
        bytes.append(ReplicationStream.RecordType.zero.rawValue)
        bytes.appendLittleEndian(offset, width: 8)
        bytes.appendLittleEndian(length, width: 8)
    }

    mutating func end() {
        bytes.append(ReplicationStream.RecordType.end.rawValue)
        var hasher = XXHash64()
        hasher.update(bytes)
        bytes.appendLittleEndian(hasher.finalize(), width: 8)
    }
}

// MARK: - Checksum, stream format, extent diff

@Suite("replication: checksum, stream format, extent diff")
struct ReplicationStreamTests {
    /// `count` bytes of a fixed pattern.
    static func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) } }

    static func hash(_ pieces: [[UInt8]]) -> UInt64 {
        var hasher = XXHash64()
        for piece in pieces { hasher.update(piece) }
        return hasher.finalize()
    }

    @Test("XXH64 of reference inputs (values from Python's xxhash package)")
    func xxhashReference() {
        let cases: [([UInt8], UInt64)] = [
            ([], 0xef46_db37_51d8_e999),
            (Array("a".utf8), 0xd24e_c4f1_a98c_6e5b),
            (Array("abc".utf8), 0x44bc_2cf5_ad77_0999),
            ((0..<768).map { UInt8($0 % 256) } + Array("xyz".utf8), 0xe921_a1b4_5bd7_79f8),
            (Array(String(repeating: "0123456789", count: 10).utf8), 0xf80e_7b96_315a_fffa),
            // Around a whole 32-byte stripe, and the 100 bytes split below.
            (Self.pattern(31), 0xa2aa_5f33_cc4a_6119),
            (Self.pattern(32), 0x23c3_c17e_f790_fd97),
            (Self.pattern(50), 0x3feb_2f60_dd4d_0dbd),
            (Self.pattern(100), 0xa61f_8d4c_170f_e531),
        ]
        for (input, expected) in cases {
            #expect(Self.hash([input]) == expected, "\(input.count) bytes")
        }
    }

    @Test("XXH64 fed in uneven pieces: every split point gives the same hash; finalizing midway changes nothing")
    func xxhashPieces() {
        let input = Self.pattern(100)
        let expected: UInt64 = 0xa61f_8d4c_170f_e531
        for split in 0...100 {
            #expect(Self.hash([Array(input[..<split]), Array(input[split...])]) == expected, "split at \(split)")
        }
        for first in 0...100 {
            for second in stride(from: first, through: 100, by: 3) {
                let pieces = [Array(input[..<first]), [], Array(input[first..<second]), Array(input[second...])]
                #expect(Self.hash(pieces) == expected, "split at \(first) and \(second)")
            }
        }
        for size in 1...40 {
            let pieces = stride(from: 0, to: 100, by: size).map { Array(input[$0..<min($0 + size, 100)]) }
            #expect(Self.hash(pieces) == expected, "pieces of \(size)")
        }
        var hasher = XXHash64()
        hasher.update(Array(input[..<50]))
        #expect(hasher.finalize() == 0x3feb_2f60_dd4d_0dbd)
        hasher.update(Array(input[50...]))
        #expect(hasher.finalize() == expected)
        #expect(hasher.finalize() == expected, "finalize does not consume")

        // A MiB, in pieces of 1000 bytes (never a whole stripe at once).
        let mebibyte = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0) }
        #expect(Self.hash([mebibyte]) == 0x44ec_7540_579d_d3f0)
        #expect(Self.hash(stride(from: 0, to: mebibyte.count, by: 1000).map { Array(mebibyte[$0..<min($0 + 1000, mebibyte.count)]) })
            == 0x44ec_7540_579d_d3f0)
    }

    @Test("the header's layout: magic, version, flags, size, timestamp, lengths, reserved, then the strings")
    func headerLayout() {
        let header = ReplicationHeader(volumeSize: 0x0102_0304_0506_0708, snapshot: "s",
                                       identity: SnapshotIdentity(id: "ab", timestamp: -2), baseID: "xyz")
        let expected: [UInt8] = Array("PVESWREP".utf8) + [1, 0, 0, 0] + [0, 0, 0, 0] + [8, 7, 6, 5, 4, 3, 2, 1]
            + [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + [1, 0, 2, 0, 3, 0, 0, 0] + Array("sabxyz".utf8)
        #expect(header.encoded() == expected)
        #expect(ReplicationStream.fixedHeaderLength == 40)
    }

    static let bigHeader = ReplicationHeader(volumeSize: (3 << 20) + 12345, snapshot: "snap_1.\u{e9}",
                                             identity: SnapshotIdentity(id: "A-z.0_9", timestamp: 1_767_225_600), baseID: "base-1")

    @Test("round trip: the header and records as written, data split at maximumRecord, empty records not written")
    func roundTrip() throws {
        let maximum = ReplicationStream.maximumRecord
        var big = [UInt8](repeating: 0, count: 2 * maximum + 100)
        big.withUnsafeMutableBytes { buffer in
            var state: UInt64 = 1
            for index in stride(from: 0, to: buffer.count, by: 8) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                buffer[index] = UInt8(truncatingIfNeeded: state >> 56)
            }
        }
        let size = Self.bigHeader.volumeSize
        let stream = ReplicationStreams.build(Self.bigHeader) { writer throws(StorageError) in
            try writer.writeData(big, at: 0)
            try writer.writeZero(at: UInt64(big.count), length: 1000)
            try writer.writeZero(at: UInt64(big.count) + 1000, length: 0)
            try writer.writeData([], at: UInt64(big.count) + 1000)
            try writer.writeData([1, 2, 3], at: size - 3)
        }
        let (header, records) = try ReplicationStreams.read(stream).get()
        #expect(header == Self.bigHeader)
        let expected: [ReplicationStreams.Record] = [
            .data(0, Array(big[0..<maximum])), .data(UInt64(maximum), Array(big[maximum..<(2 * maximum)])),
            .data(UInt64(2 * maximum), Array(big[(2 * maximum)...])), .zero(UInt64(big.count), 1000), .data(size - 3, [1, 2, 3]),
        ]
        #expect(records == expected)
        let headerLength = 40 + "snap_1.\u{e9}".utf8.count + 7 + 6
        #expect(stream.count == headerLength + 3 * 13 + big.count + 17 + 13 + 3 + 1 + 8)

        // A full stream: no base; nothing but the header is needed.
        var full = Self.bigHeader
        full.baseID = nil
        let empty = ReplicationStreams.build(full)
        #expect(try ReplicationStreams.read(empty).get().header == full)
        #expect(try ReplicationStreams.read(empty).get().records == [])
        #expect(empty.count == 40 + "snap_1.\u{e9}".utf8.count + 7 + 1 + 8)
    }

    /// A small valid stream: header (48 bytes), two data records and a zero record.
    static let small = ReplicationHeader(volumeSize: 65536, snapshot: "s1", identity: SnapshotIdentity(id: "id1", timestamp: 1),
                                         baseID: "id0")
    static let smallStream = ReplicationStreams.build(small) { writer throws(StorageError) in
        try writer.writeData([1, 2, 3, 4, 5], at: 10)
        try writer.writeZero(at: 100, length: 50)
        try writer.writeData([9], at: 65535)
    }

    /// `bytes` with the little-endian field at `offset` set to `value`.
    static func with(_ bytes: [UInt8], _ offset: Int, width: Int, _ value: UInt64) -> [UInt8] {
        var field: [UInt8] = []
        field.appendLittleEndian(value, width: width)
        var changed = bytes
        changed.replaceSubrange(offset..<(offset + width), with: field)
        return changed
    }

    @Test("the header is checked field by field, each refusal with its message")
    func headerRefusals() throws {
        let stream = Self.smallStream
        #expect(ReplicationStreams.refusal(stream) == nil)
        var magic = stream
        magic[0] = UInt8(ascii: "Q")
        #expect(ReplicationStreams.refusal(magic) == .notAReplicationStream)
        #expect(ReplicationStreams.message(magic) == "not a replication stream of this plugin (raw+size with snapshots)")
        #expect(ReplicationStreams.refusal(StreamHeader.encode(40960) + [UInt8](repeating: 0x5a, count: 100)) == .notAReplicationStream,
                "a plain raw+size stream")
        #expect(ReplicationStreams.message(Self.with(stream, 8, width: 4, 2))
            == "replication stream version 2 is not supported (this plugin reads version 1)")
        #expect(ReplicationStreams.refusal(Self.with(stream, 8, width: 4, 0)) == .unsupportedVersion(0))
        #expect(ReplicationStreams.message(Self.with(stream, 12, width: 4, 1)) == "invalid replication stream header - unknown flags 1")
        #expect(ReplicationStreams.message(Self.with(stream, 12, width: 4, 0x8000_0000))
            == "invalid replication stream header - unknown flags 2147483648")
        #expect(ReplicationStreams.message(Self.with(stream, 16, width: 8, 0)) == "invalid replication stream header - volume size 0")
        #expect(ReplicationStreams.message(Self.with(stream, 16, width: 8, 1 << 63))
            == "invalid replication stream header - volume size 9223372036854775808")
        #expect(ReplicationStreams.message(Self.with(stream, 38, width: 2, 1)) == "invalid replication stream header - reserved field not 0")
        for (offset, length) in [(32, 129), (34, 65), (36, 65), (32, 0xFFFF)] {
            #expect(ReplicationStreams.message(Self.with(stream, offset, width: 2, UInt64(length)))
                == "invalid replication stream header - a name or id is too long", "length field at \(offset): \(length)")
        }
        // The longest name and ids are read.
        let longest = ReplicationHeader(volumeSize: 1, snapshot: String(repeating: "n", count: 128),
                                        identity: SnapshotIdentity(id: String(repeating: "i", count: 64), timestamp: .min),
                                        baseID: String(repeating: "b", count: 64))
        #expect(try ReplicationStreams.read(ReplicationStreams.build(longest)).get().header == longest)
        #expect(ReplicationStreams.message(ReplicationStreams.build(ReplicationHeader(
            volumeSize: 1, snapshot: String(repeating: "n", count: 129), identity: SnapshotIdentity(id: "i", timestamp: 0), baseID: nil)))
            == "invalid replication stream header - a name or id is too long")

        func header(_ name: String, _ id: String, _ base: String?) -> [UInt8] {
            ReplicationStreams.build(ReplicationHeader(volumeSize: 4096, snapshot: name, identity: SnapshotIdentity(id: id, timestamp: 0),
                                                       baseID: base))
        }
        for name in ["", "a/b", "..", "a..b", "x\u{1}", "x\u{7F}"] {
            #expect(ReplicationStreams.message(header(name, "i", nil)) == "invalid replication stream header - invalid snapshot name",
                    "name \(name.debugDescription)")
        }
        for id in ["", "a b", "a/b", "\u{e9}", "a:b", String(repeating: "x", count: 65)] {
            let expected = id.utf8.count > 64 ? "a name or id is too long" : "invalid snapshot id"
            #expect(ReplicationStreams.message(header("s", id, nil)) == "invalid replication stream header - \(expected)", "id \(id.debugDescription)")
            if id.isEmpty { continue } // an empty base is a full stream
            let base = id.utf8.count > 64 ? "a name or id is too long" : "invalid base snapshot id"
            #expect(ReplicationStreams.message(header("s", "i", id)) == "invalid replication stream header - \(base)", "base \(id.debugDescription)")
        }
        // Bytes that are not UTF-8 in each string.
        let valid = header("s", "i", "b")
        for (offset, expected) in [(40, "invalid snapshot name"), (41, "invalid snapshot id"), (42, "invalid base snapshot id")] {
            var invalid = valid
            invalid[offset] = 0xFF
            #expect(ReplicationStreams.message(invalid) == "invalid replication stream header - \(expected)")
        }
    }

    @Test("every prefix of a valid stream ended early; one byte more is trailing data")
    func truncations() {
        let stream = Self.smallStream
        for length in 0..<stream.count {
            #expect(ReplicationStreams.refusal(Array(stream[..<length])) == .endedEarly, "cut at \(length) of \(stream.count)")
        }
        #expect(ReplicationStreamError.endedEarly.description == "the replication stream ended early")
        #expect(ReplicationStreams.refusal(stream + [0]) == .trailingData)
        #expect(ReplicationStreams.message(stream + Array(stream)) == "data after the end of the replication stream")
    }

    static func kind(_ refusal: ReplicationStreamError) -> String {
        switch refusal {
        case .notAReplicationStream: return "magic"
        case .unsupportedVersion: return "version"
        case .endedEarly: return "ended early"
        case .invalidHeader: return "header"
        case .invalidRecord: return "record"
        case .checksumMismatch: return "checksum"
        case .trailingData: return "trailing data"
        }
    }

    @Test("every single changed byte is refused (by the checksum, or as a structural error), never accepted")
    func flippedBytes() {
        let stream = Self.smallStream
        var kinds: [String: Int] = [:]
        for index in stream.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = stream
                damaged[index] ^= mask
                let refusal = ReplicationStreams.refusal(damaged)
                #expect(refusal != nil, "byte \(index) ^ \(mask) accepted")
                if let refusal { kinds[Self.kind(refusal), default: 0] += 1 }
            }
        }
        #expect((kinds["checksum"] ?? 0) > 0 && kinds.count >= 4, "the checksum and the structure both catch some: \(kinds)")
        var trailer = stream
        trailer[trailer.count - 1] ^= 1
        #expect(ReplicationStreams.message(trailer) == "the replication stream's checksum does not match (damaged in transit)")
    }

    @Test("records: within the volume, ascending without overlap, not empty, data at most maximumRecord")
    func recordRefusals() {
        let header = Self.small // 48 bytes of header, volume 65536
        func stream(_ records: (inout ReplicationStreamWriter<ByteOutput>) throws(StorageError) -> Void) -> [UInt8] {
            ReplicationStreams.build(header, records)
        }
        let prefix = "invalid replication stream record at stream byte"
        #expect(ReplicationStreams.message(stream { writer throws(StorageError) in try writer.writeData([1, 2, 3, 4], at: 65534) })
            == "\(prefix) 48 - range 65534+4 outside the volume of 65536 bytes")
        #expect(ReplicationStreams.message(stream { writer throws(StorageError) in try writer.writeZero(at: 65536, length: 1) })
            == "\(prefix) 48 - range 65536+1 outside the volume of 65536 bytes")
        #expect(ReplicationStreams.message(stream { writer throws(StorageError) in try writer.writeZero(at: .max, length: 2) })
            == "\(prefix) 48 - range 18446744073709551615+2 outside the volume of 65536 bytes")
        #expect(ReplicationStreams.message(stream { writer throws(StorageError) in
            try writer.writeData([UInt8](repeating: 1, count: 10), at: 0)
            try writer.writeData([UInt8](repeating: 2, count: 10), at: 5)
        }) == "\(prefix) 71 - range 5+10 before the end of the previous one", "overlapping")
        #expect(ReplicationStreams.message(stream { writer throws(StorageError) in
            try writer.writeZero(at: 100, length: 10)
            try writer.writeZero(at: 0, length: 10)
        }) == "\(prefix) 65 - range 0+10 before the end of the previous one", "descending")
        #expect(ReplicationStreams.message(stream { writer throws(StorageError) in
            try writer.writeZero(at: 100, length: 10)
            try writer.writeData([1], at: 100)
        }) == "\(prefix) 65 - range 100+1 before the end of the previous one", "the same offset again")
        // Touching records, and the last byte of the volume, are fine.
        #expect(ReplicationStreams.refusal(stream { writer throws(StorageError) in
            try writer.writeData([UInt8](repeating: 1, count: 10), at: 0)
            try writer.writeZero(at: 10, length: 5)
            try writer.writeData([2], at: 15)
            try writer.writeZero(at: 16, length: 65520)
        }) == nil)

        var empty = HandmadeStream(header)
        empty.data(0, length: 0)
        empty.end()
        #expect(ReplicationStreams.message(empty.bytes) == "\(prefix) 48 - data length 0")
        var emptyZero = HandmadeStream(header)
        emptyZero.zero(8, length: 0)
        emptyZero.end()
        #expect(ReplicationStreams.message(emptyZero.bytes) == "\(prefix) 48 - zero length 0")
        var long = HandmadeStream(header)
        long.data(0, length: UInt64(ReplicationStream.maximumRecord) + 1)
        #expect(ReplicationStreams.message(long.bytes) == "\(prefix) 48 - data length 1048577", "refused before its bytes are read")
        var largest = HandmadeStream(ReplicationHeader(volumeSize: 1 << 21, snapshot: "s1", identity: Self.small.identity, baseID: "id0"))
        largest.data(0, length: UInt64(ReplicationStream.maximumRecord), [UInt8](repeating: 3, count: ReplicationStream.maximumRecord))
        largest.end()
        #expect(ReplicationStreams.refusal(largest.bytes) == nil)
        var fitting = HandmadeStream(header)
        fitting.data(0, length: 17, [UInt8](repeating: 3, count: 17))
        fitting.end()
        #expect(ReplicationStreams.message(fitting.bytes, buffer: 16) == "\(prefix) 48 - data length 17", "longer than the reader's buffer")
        #expect(ReplicationStreams.refusal(fitting.bytes, buffer: 17) == nil)
        for type: UInt8 in [3, 0x7F, 0xFF] {
            var unknown = HandmadeStream(header)
            unknown.bytes.append(type)
            unknown.end()
            #expect(ReplicationStreams.message(unknown.bytes) == "\(prefix) 48 - unknown record type \(type)")
        }
        var ended = HandmadeStream(header)
        ended.zero(0, length: 1)
        ended.end()
        #expect(ReplicationStreams.refusal(ended.bytes) == nil, "the handmade stream's trailer is right")
    }

    // MARK: Extent diff

    typealias Extent = FileExtent

    @Test("extents: the same place split differently is unchanged; another place is changed")
    func extentPlaces() {
        let whole = [Extent(logical: 0, physical: 1 << 20, length: 16384)]
        let split = [Extent(logical: 0, physical: 1 << 20, length: 4096, flags: .shared),
                     Extent(logical: 4096, physical: (1 << 20) + 4096, length: 8192, flags: [.shared, .merged]),
                     Extent(logical: 12288, physical: (1 << 20) + 12288, length: 4096, flags: [.shared, .last])]
        #expect(ExtentDiff.changedRanges(old: whole, new: split, in: 0..<16384) == [])
        #expect(ExtentDiff.changedRanges(old: split, new: whole, in: 0..<16384) == [])
        let moved = [Extent(logical: 0, physical: 1 << 20, length: 4096),
                     Extent(logical: 4096, physical: 9 << 20, length: 4096),
                     Extent(logical: 8192, physical: (1 << 20) + 8192, length: 8192)]
        #expect(ExtentDiff.changedRanges(old: whole, new: moved, in: 0..<16384) == [4096..<8192])
        // The same physical bytes at another file offset are other bytes there.
        let shifted = [Extent(logical: 4096, physical: 1 << 20, length: 12288)]
        #expect(ExtentDiff.changedRanges(old: whole, new: shifted, in: 0..<16384) == [0..<16384])
        // Adjacent changes merge into one range.
        let twice = [Extent(logical: 0, physical: 5 << 20, length: 4096), Extent(logical: 4096, physical: 7 << 20, length: 4096),
                     Extent(logical: 8192, physical: (1 << 20) + 8192, length: 8192)]
        #expect(ExtentDiff.changedRanges(old: whole, new: twice, in: 0..<16384) == [0..<8192])
        // Data where the other has a hole, either way.
        #expect(ExtentDiff.changedRanges(old: [], new: whole, in: 0..<16384) == [0..<16384])
        #expect(ExtentDiff.changedRanges(old: moved, new: [moved[0], moved[2]], in: 0..<16384) == [4096..<8192])
    }

    @Test("holes and unwritten extents read as zeros: unchanged among themselves, wherever the unwritten ones lie")
    func extentZeros() {
        let unwritten = [Extent(logical: 0, physical: 3 << 20, length: 8192, flags: .unwritten)]
        let elsewhere = [Extent(logical: 0, physical: 4 << 20, length: 4096, flags: .unwritten)]
        #expect(ExtentDiff.changedRanges(old: [], new: [], in: 0..<8192) == [])
        #expect(ExtentDiff.changedRanges(old: [], new: unwritten, in: 0..<8192) == [])
        #expect(ExtentDiff.changedRanges(old: unwritten, new: [], in: 0..<8192) == [])
        #expect(ExtentDiff.changedRanges(old: unwritten, new: elsewhere, in: 0..<8192) == [])
        // Written bytes at an unwritten extent's old place are data now.
        let written = [Extent(logical: 0, physical: 3 << 20, length: 8192)]
        #expect(ExtentDiff.changedRanges(old: unwritten, new: written, in: 0..<8192) == [0..<8192])
        // Extents outside the window are not looked at.
        let far = [Extent(logical: 1 << 30, physical: 1 << 20, length: 4096)]
        #expect(ExtentDiff.changedRanges(old: far, new: [], in: 0..<8192) == [])
    }

    @Test("extents whose place names no bytes alone are changed, even at the same place")
    func untrustedExtents() {
        let plain = [Extent(logical: 0, physical: 1 << 20, length: 8192)]
        let flags: [(String, Extent.Flags)] = [("delayed allocation", .delayedAllocation), ("encoded", .encoded), ("inline", .inline),
                                               ("unknown", .unknown), ("encrypted", .encrypted), ("not aligned", .notAligned),
                                               ("tail", .tail), ("unknown and unwritten", [.unknown, .unwritten]),
                                               ("delayed, last", [.delayedAllocation, .last])]
        for (name, flag) in flags {
            let flagged = [Extent(logical: 0, physical: 1 << 20, length: 4096, flags: flag),
                           Extent(logical: 4096, physical: (1 << 20) + 4096, length: 4096)]
            #expect(ExtentDiff.changedRanges(old: plain, new: flagged, in: 0..<8192) == [0..<4096], "\(name) in the new snapshot")
            #expect(ExtentDiff.changedRanges(old: flagged, new: plain, in: 0..<8192) == [0..<4096], "\(name) in the old snapshot")
            #expect(ExtentDiff.changedRanges(old: flagged, new: flagged, in: 0..<8192) == [0..<4096], "\(name) in both")
            #expect(ExtentDiff.changedRanges(old: [], new: [Extent(logical: 0, physical: 0, length: 8192, flags: flag)], in: 0..<8192)
                == [0..<8192], "\(name) against a hole")
        }
        // A place that cannot be a distance from the file offset.
        let odd = [Extent(logical: 4096, physical: .min, length: 4096)]
        #expect(ExtentDiff.changedRanges(old: odd, new: odd, in: 0..<8192) == [4096..<8192])
    }

    @Test("maps that overlap, go backwards, are empty or overflow are not trusted: the whole window")
    func brokenMaps() {
        let good = [Extent(logical: 0, physical: 1 << 20, length: 8192)]
        let broken: [(String, [Extent])] = [
            ("overlapping", [Extent(logical: 0, physical: 1 << 20, length: 8192), Extent(logical: 4096, physical: 2 << 20, length: 8192)]),
            ("unsorted", [Extent(logical: 8192, physical: 2 << 20, length: 4096), Extent(logical: 0, physical: 1 << 20, length: 8192)]),
            ("empty extent", [Extent(logical: 0, physical: 1 << 20, length: 0)]),
            ("negative length", [Extent(logical: 0, physical: 1 << 20, length: -4096)]),
            ("overflowing", [Extent(logical: .max - 10, physical: 1 << 20, length: 4096)]),
            ("overlapping outside the window", [Extent(logical: 1 << 20, physical: 1 << 20, length: 8192),
                                                Extent(logical: 1 << 20, physical: 2 << 20, length: 8192)]),
        ]
        for (name, extents) in broken {
            #expect(ExtentDiff.changedRanges(old: good, new: extents, in: 4096..<16384) == [4096..<16384], "\(name) new")
            #expect(ExtentDiff.changedRanges(old: extents, new: good, in: 4096..<16384) == [4096..<16384], "\(name) old")
        }
        #expect(ExtentDiff.changedRanges(old: broken[0].1, new: good, in: 100..<100) == [], "an empty window has nothing")
    }

    @Test("extents are clipped to the window: changes outside it are not reported")
    func clipping() {
        let old = [Extent(logical: 0, physical: 1 << 20, length: 65536)]
        let new = [Extent(logical: 0, physical: 9 << 20, length: 8192),
                   Extent(logical: 8192, physical: (1 << 20) + 8192, length: 40960),
                   Extent(logical: 49152, physical: 7 << 20, length: 16384)]
        #expect(ExtentDiff.changedRanges(old: old, new: new, in: 0..<65536) == [0..<8192, 49152..<65536])
        #expect(ExtentDiff.changedRanges(old: old, new: new, in: 4096..<53248) == [4096..<8192, 49152..<53248])
        #expect(ExtentDiff.changedRanges(old: old, new: new, in: 8192..<49152) == [])
        #expect(ExtentDiff.changedRanges(old: old, new: new, in: 100..<101) == [100..<101])
        #expect(ExtentDiff.changedRanges(old: old, new: new, in: 60000..<70000) == [60000..<65536])
        // Past both maps both read zeros (holes).
        #expect(ExtentDiff.changedRanges(old: old, new: old, in: 65536..<70000) == [])
    }

    @Test("coalesced: ranges less than the gap apart merge")
    func coalesced() {
        let ranges: [Range<Int64>] = [0..<10, 10..<20, 25..<30, 40..<41]
        #expect(ExtentDiff.coalesced(ranges, gap: 1) == [0..<20, 25..<30, 40..<41])
        #expect(ExtentDiff.coalesced(ranges, gap: 5) == [0..<20, 25..<30, 40..<41], "5 apart is not less than 5")
        #expect(ExtentDiff.coalesced(ranges, gap: 6) == [0..<30, 40..<41])
        #expect(ExtentDiff.coalesced(ranges, gap: 11) == [0..<41])
        #expect(ExtentDiff.coalesced([], gap: 1) == [])
        #expect(ExtentDiff.coalesced([0..<10, 5..<8], gap: 1) == [0..<10], "a range inside the previous one")
    }
}

// MARK: - Two storages in memory

/// One node's storage in memory, with reflinks (clones copy) and qemu-img for raw files.
struct ReplicationNode {
    let directory: MemoryDirectory
    let storage: DirectoryStorage
    var system: InMemorySystem { directory.system }

    init(id: String, now: Int64) {
        directory = MemoryDirectory(InMemorySystem(now: now))
        directory.system.simulateRawQemuImg()
        directory.system.cloneError = nil
        storage = DirectoryStorage(id: id, config: StorageConfig(path: directory.path), system: directory.system)
    }

    func path(_ volname: String, _ snapshot: String? = nil) -> String {
        directory.path + "/images/" + volname + (snapshot.map { "@" + $0 } ?? "")
    }

    func contents(_ volname: String, _ snapshot: String? = nil) -> [UInt8]? { system.contents(path(volname, snapshot)) }

    /// Every file of the storage (what must not change when an import is refused).
    var files: [String: String] { system.tree(directory.path) }

    func export(_ volname: String, snapshot: String, base: String?) throws -> [UInt8] {
        let sink = system.sink()
        defer { system.closeFile(sink) }
        try storage.exportVolume(volname, format: .known(.raw), to: sink, snapshot: snapshot, baseSnapshot: base, withSnapshots: true,
                                 className: "PVE::Storage::Custom::SwiftPlugin")
        return system.written(to: sink)
    }

    @discardableResult
    func receive(_ stream: [UInt8], _ volname: String, snapshot: String?, base: String?) throws -> String {
        let source = system.stream(stream)
        defer { system.closeFile(source) }
        return try storage.importVolume(volname, format: .known(.raw), from: source, snapshot: snapshot, baseSnapshot: base,
                                        withSnapshots: true, allowRename: false, className: "PVE::Storage::Custom::SwiftPlugin",
                                        print: { _ in })
    }

    /// Writes `bytes` at `offset` of a file (growing it as pwrite does).
    func write(_ bytes: [UInt8], at offset: Int64, of path: String) throws {
        let descriptor = try system.openFile(path, writing: true)
        defer { system.closeFile(descriptor) }
        _ = try bytes.withUnsafeBytes { try system.writeDescriptor(descriptor, from: $0, at: offset) }
    }

    func truncate(_ path: String, to size: Int64) throws {
        let descriptor = try system.openFile(path, writing: true)
        defer { system.closeFile(descriptor) }
        try system.truncate(descriptor, to: size)
    }

    /// Name, id and timestamp of each snapshot.
    func snapshots(_ volname: String) throws -> [String] {
        try storage.snapshotInfo(volname).map { "\($0.name) \($0.id ?? "-") \($0.timestamp.map(String.init) ?? "-")" }.sorted()
    }
}

@Suite("replication between two storages in memory (content comparison: no extent maps)")
struct ReplicationMemoryTests {
    static let volume = "100/vm-100-disk-0.raw"

    /// A source node with the disk (data at a few places) and its snapshot s1, and a
    /// target node (its clock elsewhere) that received s1 in full.
    static func replicated() throws -> (source: ReplicationNode, target: ReplicationNode) {
        let source = ReplicationNode(id: "a", now: 1_800_000_000)
        let target = ReplicationNode(id: "b", now: 1_800_050_000)
        _ = try source.storage.allocateImage(vmid: "100", format: .known(.raw), name: nil, sizeKiB: 1024)
        let path = source.path(volume)
        try source.write([UInt8](repeating: 0x11, count: 5000), at: 0, of: path)
        try source.write(Array("replicated".utf8), at: 300_000, of: path)
        try source.write([UInt8](repeating: 0xEE, count: 70000), at: 700_000, of: path)
        try source.storage.takeSnapshot(volume, "s1")
        try source.write([UInt8](repeating: 0x22, count: 100), at: 0, of: path) // after s1: not in it
        try target.receive(try source.export(volume, snapshot: "s1", base: nil), volume, snapshot: "s1", base: nil)
        return (source, target)
    }

    @Test("full, then incremental rounds (growing, shrinking): the target holds each snapshot, with its id and timestamp")
    func rounds() throws {
        let (source, target) = try Self.replicated()
        let path = source.path(Self.volume)
        #expect(target.contents(Self.volume) == source.contents(Self.volume, "s1"), "the volume is the snapshot's state")
        #expect(target.contents(Self.volume, "s1") == source.contents(Self.volume, "s1"))
        #expect(source.contents(Self.volume)?.first == 0x22 && target.contents(Self.volume)?.first == 0x11)
        #expect(try target.snapshots(Self.volume) == source.snapshots(Self.volume))
        #expect(try target.storage.snapshotInfo(Self.volume).first?.timestamp == 1_800_000_000, "the source's time, not the target's")
        #expect(target.directory.names(in: "images/100") == ["vm-100-disk-0.raw", "vm-100-disk-0.raw@s1"])

        // Round 2: one byte changed, and the disk grown by half a MiB.
        source.system.now += 100
        try source.write([0x5A], at: 200_000, of: path)
        _ = try source.storage.resizeVolume(Self.volume, size: Scalar(Int64(1_572_864)), running: false, snapshot: .none, className: "x")
        #expect(source.contents(Self.volume)?.count == 1_572_864)
        try source.storage.takeSnapshot(Self.volume, "s2")
        let second = try source.export(Self.volume, snapshot: "s2", base: "s1")
        let (header, records) = try ReplicationStreams.read(second).get()
        let ids = try source.storage.snapshotInfo(Self.volume).reduce(into: [String: String]()) { $0[$1.name] = $1.id }
        #expect(header.snapshot == "s2" && header.volumeSize == 1_572_864 && header.baseID == ids["s1"] && header.identity.id == ids["s2"])
        #expect(header.identity.timestamp == 1_800_000_100)
        // Compared by content in 64 KiB blocks: the first (written after s1), the block of
        // the changed byte, and all that is new.
        let covered = records.map { record -> Range<UInt64> in
            switch record {
            case .data(let offset, let bytes): return offset..<(offset + UInt64(bytes.count))
            case .zero(let offset, let length): return offset..<(offset + length)
            }
        }
        #expect(ExtentDiff.coalesced(covered.map { Int64($0.lowerBound)..<Int64($0.upperBound) }, gap: 1)
            == [0..<65536, 196_608..<262_144, 1_048_576..<1_572_864], "\(records)")
        try target.receive(second, Self.volume, snapshot: "s2", base: "s1")
        #expect(target.contents(Self.volume) == source.contents(Self.volume, "s2"))
        #expect(target.contents(Self.volume, "s2") == source.contents(Self.volume, "s2"))
        #expect(target.contents(Self.volume, "s1") == source.contents(Self.volume, "s1"), "the base is left as it was")
        #expect(try target.snapshots(Self.volume) == source.snapshots(Self.volume))

        // Round 3: shrunk below the base's size, zeros written over data, on a target that
        // cannot punch holes (zeros written there instead).
        source.system.now += 100
        try source.truncate(path, to: 524_388)
        try source.write([UInt8](repeating: 0, count: 4096), at: 0, of: path)
        try source.write([1, 2, 3], at: 524_385, of: path)
        try source.storage.takeSnapshot(Self.volume, "s3")
        let third = try source.export(Self.volume, snapshot: "s3", base: "s2")
        #expect(third.count < 200_000, "two 64 KiB blocks, not the disk: \(third.count) bytes")
        target.system.punchHoleError = .notSupported
        try target.receive(third, Self.volume, snapshot: "s3", base: "s2")
        #expect(target.contents(Self.volume)?.count == 524_388)
        #expect(target.contents(Self.volume) == source.contents(Self.volume, "s3"))
        #expect(target.contents(Self.volume, "s2") == source.contents(Self.volume, "s2"))
        #expect(try target.snapshots(Self.volume) == source.snapshots(Self.volume))

        // Round 4, from an older base than the last: s1 to s4.
        source.system.now += 100
        target.system.punchHoleError = nil
        try source.write([UInt8](repeating: 0x77, count: 3), at: 100_000, of: path)
        try source.storage.takeSnapshot(Self.volume, "s4")
        try target.receive(try source.export(Self.volume, snapshot: "s4", base: "s1"), Self.volume, snapshot: "s4", base: "s1")
        #expect(target.contents(Self.volume) == source.contents(Self.volume, "s4"))
        #expect(try target.snapshots(Self.volume) == source.snapshots(Self.volume))
        #expect(target.directory.names(in: "images/100")
            == ["vm-100-disk-0.raw", "vm-100-disk-0.raw@s1", "vm-100-disk-0.raw@s2", "vm-100-disk-0.raw@s3", "vm-100-disk-0.raw@s4"],
                "no temporaries left")
        #expect(source.system.openDescriptors == 0 && target.system.openDescriptors == 0)
    }

    @Test("an incremental stream needs its base: a missing one, or another snapshot of that name, is refused before anything is written")
    func bases() throws {
        let (source, target) = try Self.replicated()
        let path = source.path(Self.volume)
        try source.write([0x33], at: 4, of: path)
        try source.storage.takeSnapshot(Self.volume, "s2")
        let incremental = try source.export(Self.volume, snapshot: "s2", base: "s1")
        let targetID = try #require(try target.storage.snapshotInfo(Self.volume).first?.id)

        // s1 taken again on the source: same name, another snapshot.
        #expect(try !source.storage.deleteSnapshot(Self.volume, "s1", running: false))
        try source.storage.takeSnapshot(Self.volume, "s1")
        try source.storage.takeSnapshot(Self.volume, "s3")
        let newID = try #require(try source.storage.snapshotInfo(Self.volume).first { $0.name == "s1" }?.id)
        #expect(newID != targetID)
        let other = try source.export(Self.volume, snapshot: "s3", base: "s1")
        let before = target.files
        #expect(failure { try target.receive(other, Self.volume, snapshot: "s3", base: "s1") }
            == "import: snapshot 's1' of '\(Self.volume)' is not the stream's base (id \(targetID) here, \(newID) in the stream)")
        #expect(target.files == before)

        // Without the base on the target.
        #expect(try !target.storage.deleteSnapshot(Self.volume, "s1", running: false))
        let withoutBase = target.files
        #expect(failure { try target.receive(incremental, Self.volume, snapshot: "s2", base: "s1") }
            == "import: base snapshot 's1' of '\(Self.volume)' does not exist on this storage")
        #expect(target.files == withoutBase)
        #expect(target.system.openDescriptors == 0)
    }

    @Test("refusals on import: names, kinds of stream, what exists, damage; the target unchanged")
    func importRefusals() throws {
        let (source, target) = try Self.replicated()
        let full = try source.export(Self.volume, snapshot: "s1", base: nil)
        try source.write([0x33], at: 4, of: source.path(Self.volume))
        try source.storage.takeSnapshot(Self.volume, "s2")
        let incremental = try source.export(Self.volume, snapshot: "s2", base: "s1")
        let fullS2 = try source.export(Self.volume, snapshot: "s2", base: nil)

        let fresh = ReplicationNode(id: "c", now: 1)
        fresh.directory.create("images", directory: true)
        let cases: [(ReplicationNode, [UInt8], String?, String?, String)] = [
            (fresh, full, "s9", nil, "import: the stream carries snapshot 's1', not 's9'"),
            (fresh, full, "s1", "s0", "import: the stream is a full one, not incremental from 's0'"),
            (fresh, incremental, "s2", nil, "import: the stream is incremental, but no base snapshot was given"),
            (target, full, "s1", nil, "snapshot 's1' already exists on '\(Self.volume)'"),
            (target, fullS2, "s2", nil, "file '\(target.path(Self.volume))' already exists"),
            (fresh, Array(full.dropLast(9)), "s1", nil, "import: the replication stream ended early"),
            (fresh, StreamHeader.encode(4096) + [UInt8](repeating: 0, count: 4096), nil, nil,
             "import: not a replication stream of this plugin (raw+size with snapshots)"),
            (fresh, { var damaged = full; damaged[damaged.count / 2] ^= 0x10; return damaged }(), "s1", nil,
             "import: the replication stream's checksum does not match (damaged in transit)"),
            (target, { var damaged = incremental; damaged[damaged.count - 20] ^= 0x10; return damaged }(), "s2", "s1",
             "import: the replication stream's checksum does not match (damaged in transit)"),
            (fresh, full, "../x", nil, "import: the stream carries snapshot 's1', not '../x'"),
        ]
        for (node, stream, snapshot, base, expected) in cases {
            let before = node.files
            #expect(failure { try node.receive(stream, Self.volume, snapshot: snapshot, base: base) } == expected)
            #expect(node.files == before, "\(expected): nothing left behind")
            #expect(node.system.openDescriptors == 0, "\(expected): descriptors closed")
        }
        #expect(fresh.directory.names(in: "images") == [], "not even the VM's directory")
        // What is left on the target still replicates.
        try target.receive(incremental, Self.volume, snapshot: "s2", base: "s1")
        #expect(target.contents(Self.volume) == source.contents(Self.volume, "s2"))
    }

    /// The in-memory system where the extended attributes of one file cannot be read now (EIO).
    struct UnreadableAttributes: ForwardingSystem {
        var base: any SystemCalls
        var path: String
        func extendedAttribute(_ name: String, of path: String) throws(Errno) -> [UInt8]? {
            if path == self.path { throw .ioError }
            return try base.extendedAttribute(name, of: path)
        }
    }

    @Test("a snapshot whose id cannot be read now is not sent under another id")
    func unreadableIdentity() throws {
        let (source, target) = try Self.replicated()
        try source.write([0x44], at: 8, of: source.path(Self.volume))
        try source.storage.takeSnapshot(Self.volume, "s2")
        let ids = try source.storage.snapshotInfo(Self.volume).reduce(into: [String: String]()) { $0[$1.name] = $1.id }
        let failing = DirectoryStorage(id: "a", config: StorageConfig(path: source.directory.path),
                                       system: UnreadableAttributes(base: source.system, path: source.path(Self.volume, "s2")))
        let sink = source.system.sink()
        defer { source.system.closeFile(sink) }
        // What is sent as s2's id: the id, or nothing (the export refused).
        var sent: String?
        do {
            try failing.exportVolume(Self.volume, format: .known(.raw), to: sink, snapshot: "s2", baseSnapshot: "s1", withSnapshots: true,
                                     className: "x")
            sent = try ReplicationStreams.read(source.system.written(to: sink)).get().header.identity.id
        } catch {}
        #expect(sent == nil, "s2 is \(ids["s2"] ?? "?"), the stream says \(sent ?? "-")")
        #expect(failure {
            try failing.exportVolume(Self.volume, format: .known(.raw), to: sink, snapshot: "s2", baseSnapshot: "s1",
                                     withSnapshots: true, className: "x")
        } == "cannot read the id of snapshot file '\(source.path(Self.volume, "s2"))' - Input/output error")
        #expect(failure { try failing.snapshotInfo(Self.volume) }
            == "cannot read the id of snapshot file '\(source.path(Self.volume, "s2"))' - Input/output error")
    }

    @Test("refusals on export, and the formats offered: raw+size with snapshots only for raw disks where reflinks work")
    func exportRefusals() throws {
        let (source, _) = try Self.replicated()
        #expect(failure { try source.export(Self.volume, snapshot: "s7", base: nil) }
            == "export: snapshot 's7' of '\(Self.volume)' does not exist")
        #expect(failure { try source.export(Self.volume, snapshot: "s1", base: "s0") }
            == "export: snapshot 's0' of '\(Self.volume)' does not exist")
        #expect(failure { try source.export(Self.volume, snapshot: "../x", base: nil) }?.hasPrefix("invalid snapshot name '../x'") == true)
        #expect(source.system.openDescriptors == 0)
        #expect(try source.storage.exportFormats(Self.volume, snapshot: "s1", baseSnapshot: "s0", withSnapshots: true) == [.raw])
        #expect(try source.storage.importFormats(Self.volume, baseSnapshot: "s0", withSnapshots: true) == [.raw])
        #expect(try source.storage.exportFormats("100/vm-100-disk-1.qcow2", snapshot: "s1", baseSnapshot: nil, withSnapshots: true) == [])

        // A storage without reflinks offers no replication, and refuses the stream.
        let plain = ReplicationNode(id: "p", now: 1)
        plain.system.cloneError = .notSupported
        plain.directory.create("images", directory: true)
        #expect(try plain.storage.exportFormats(Self.volume, snapshot: "s1", baseSnapshot: nil, withSnapshots: true) == [])
        #expect(try plain.storage.importFormats(Self.volume, baseSnapshot: nil, withSnapshots: true) == [])
        #expect(failure { try plain.receive(try source.export(Self.volume, snapshot: "s1", base: nil), Self.volume, snapshot: "s1", base: nil) }
            == "format raw+size cannot be imported with snapshots")
        #expect(failure { try plain.export(Self.volume, snapshot: "s1", base: nil) }
            == "volume export format raw+size not available for PVE::Storage::Custom::SwiftPlugin")
    }
}

// MARK: - The extent diff on real file systems

/// A small file system in an image file (on tmpfs where there is one: flushes cost nothing),
/// loop-mounted; ``remove()`` unmounts it and deletes the image, as does deinit.
final class LoopMount {
    let kind: String
    let root: String
    let mountPoint: String
    private var mounted = false

    static func executable(_ names: [String]) -> String? {
        names.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static let mkfs = (xfs: executable(["/usr/sbin/mkfs.xfs", "/sbin/mkfs.xfs"]),
                       btrfs: executable(["/usr/sbin/mkfs.btrfs", "/sbin/mkfs.btrfs", "/usr/bin/mkfs.btrfs"]))
    static let mount = executable(["/usr/bin/mount", "/bin/mount"])
    static let umount = executable(["/usr/bin/umount", "/bin/umount"])

    /// Why loop mounts cannot be made here; nil when they can.
    static let unavailable: String? = {
        if getuid() != 0 { return "not root" }
        // Root in a container may lack CAP_SYS_ADMIN (bit 21 of the effective set): no mounts.
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let effective = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
            .flatMap { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) }
        if let effective, effective & (1 << 21) == 0 { return "no CAP_SYS_ADMIN" }
        if !FileManager.default.fileExists(atPath: "/dev/loop-control") { return "no /dev/loop-control" }
        if mkfs.xfs == nil { return "no mkfs.xfs" }
        if mkfs.btrfs == nil { return "no mkfs.btrfs" }
        if mount == nil || umount == nil { return "no mount/umount" }
        return nil
    }()

    struct Failure: Error, CustomStringConvertible { var description: String }

    static func run(_ arguments: [String]) throws {
        let result = try LiveSystem().run(Command(arguments[0], Array(arguments.dropFirst()), timeout: 120))
        guard result.succeeded else {
            throw Failure(description: "\(arguments.joined(separator: " ")) failed: \(String(decoding: result.errorOutput, as: UTF8.self))")
        }
    }

    init(_ kind: String) throws {
        self.kind = kind
        let parent = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        var template = Array((parent + "/swiftplugin-reptest-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw Failure(description: "mkdtemp in \(parent) failed")
        }
        root = String(cString: made)
        mountPoint = root + "/mnt"
        do {
            let image = root + "/\(kind).img"
            guard FileManager.default.createFile(atPath: image, contents: nil) else { throw Failure(description: "cannot create \(image)") }
            guard Glibc.truncate(image, kind == "xfs" ? 320 << 20 : 256 << 20) == 0 else { throw Failure(description: "truncate \(image)") }
            if kind == "xfs" {
                try Self.run([Self.mkfs.xfs!, "-q", "-f", "-m", "reflink=1", image])
            } else {
                try Self.run([Self.mkfs.btrfs!, "-q", "-f", image])
            }
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
            try Self.run([Self.mount!, "-o", "loop", image, mountPoint])
            mounted = true
        } catch {
            remove()
            throw error
        }
    }

    func remove() {
        if mounted {
            if (try? Self.run([Self.umount!, mountPoint])) == nil { try? Self.run([Self.umount!, "-l", mountPoint]) }
            mounted = false
        }
        // Never below a mount that is still there.
        guard !FileManager.default.fileExists(atPath: mountPoint) || rmdir(mountPoint) == 0 || errno == ENOENT else { return }
        try? FileManager.default.removeItem(atPath: root)
    }

    deinit { remove() }
}

/// splitmix64: a seeded generator, the same cases from the same seed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Raw file operations for the property test (POSIX, as a guest's writes reach a disk image).
enum RawFile {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func check(_ result: Int, _ what: @autoclosure () -> String) throws {
        guard result >= 0 else { throw Failure(description: "\(what()): \(String(cString: strerror(errno)))") }
    }

    static func create(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try check(Int(descriptor), "open \(path)")
        return descriptor
    }

    static func write(_ descriptor: Int32, _ bytes: [UInt8], at offset: Int64) throws {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + done, $0.count - done, off_t(offset) + off_t(done)) }
            try check(count, "pwrite at \(offset)")
            done += count
        }
    }

    static func contents(_ path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        try check(Int(descriptor), "open \(path)")
        defer { close(descriptor) }
        var info = stat()
        try check(Int(fstat(descriptor, &info)), "fstat \(path)")
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            try check(count, "pread \(path)")
            if count == 0 { break }
            done += count
        }
        return bytes
    }
}

@Suite("replication on XFS and btrfs: the extent diff never misses a change", .serialized)
struct ReplicationFileSystemTests {
    /// Cases per file system; the seed from SPVE_REPLICATION_SEED, else a new one each run.
    static let cases = 2000
    static let seed: UInt64 = ProcessInfo.processInfo.environment["SPVE_REPLICATION_SEED"].flatMap { UInt64($0) }
        ?? UInt64.random(in: 0...UInt64(UInt32.max))
    static let block: Int64 = 4096

    /// One random case: a disk file with data, holes and preallocated ranges, its first
    /// snapshot, changes (writes, discards, resizes), its second snapshot; what changed.
    struct Case {
        var seed: UInt64
        var log: [String] = []
        var baseSize: Int64 = 0
        var newSize: Int64 = 0
        /// Byte ranges the changes touched (before rounding to blocks).
        var touched: [Range<Int64>] = []
    }

    /// A size: often tiny (inline on btrfs) or block-aligned, up to 3 MiB.
    static func size(_ random: inout SplitMix) -> Int64 {
        switch Int.random(in: 0..<8, using: &random) {
        case 0: return Int64.random(in: 1...5000, using: &random)
        case 1: return Int64.random(in: 1...256, using: &random) * block
        case 2: return Int64.random(in: 1...768, using: &random) * block
        default: return Int64.random(in: 1...(3 << 20), using: &random)
        }
    }

    /// A range to change: anywhere up to a little past the end, sometimes block-aligned.
    static func range(_ size: Int64, _ random: inout SplitMix) -> Range<Int64> {
        let aligned = Bool.random(using: &random)
        var start = Int64.random(in: 0...(size + 65536), using: &random)
        var length: Int64 = switch Int.random(in: 0..<4, using: &random) {
        case 0: Int64.random(in: 1...100, using: &random)
        case 1: Int64.random(in: 1...16, using: &random) * block
        default: Int64.random(in: 1...(512 << 10), using: &random)
        }
        if aligned {
            start = start / block * block
            length = (length + block - 1) / block * block
        }
        return start..<(start + length)
    }

    /// Applies one random change to the open file of `size` bytes; returns the new size
    /// and records what it touched. Mostly writes, then discards, resizes, preallocation;
    /// rarely (a few hundred writes) fragmentation.
    static func change(_ descriptor: Int32, size: Int64, _ random: inout SplitMix,
                       _ counter: inout UInt64, _ item: inout Case) throws -> Int64 {
        let newSize: Int64
        switch Int.random(in: 0..<200, using: &random) {
        case 0..<100: // write: a value (sometimes zeros) with a unique word at the start
            let range = range(size, &random)
            let value: UInt8 = Int.random(in: 0..<6, using: &random) == 0 ? 0 : UInt8.random(in: 1...255, using: &random)
            var bytes = [UInt8](repeating: value, count: Int(range.count))
            if value != 0 {
                counter += 1
                for index in 0..<min(8, bytes.count) { bytes[index] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(index))) | 1 }
            }
            try RawFile.write(descriptor, bytes, at: range.lowerBound)
            newSize = max(size, range.upperBound)
            item.log.append("write \(range) of \(value)")
            item.touched.append(range)
        case 100..<140: // discard
            let range = range(size, &random)
            try LiveSystem().punchHole(descriptor, at: range.lowerBound, count: Int64(range.count))
            newSize = size
            item.log.append("punch \(range)")
            item.touched.append(range)
        case 140..<176: // resize, down or up
            newSize = Bool.random(using: &random) ? Int64.random(in: 1...max(1, size), using: &random) : Self.size(&random)
            try RawFile.check(Int(ftruncate(descriptor, off_t(newSize))), "ftruncate \(newSize)")
            item.log.append("truncate \(size) -> \(newSize)")
        case 176..<196: // preallocate (unwritten extents where there are holes; reads as before)
            let range = range(size, &random)
            let result = posix_fallocate(descriptor, off_t(range.lowerBound), off_t(range.count))
            guard result == 0 else { throw RawFile.Failure(description: "posix_fallocate \(range): \(String(cString: strerror(result)))") }
            newSize = max(size, range.upperBound)
            item.log.append("fallocate \(range)")
        default: // fragment: every other block of a run written, more extents than one FIEMAP call returns (128)
            let start = Int64.random(in: 0...(size + 65536), using: &random) / block * block
            let count = Int64.random(in: 130...200, using: &random)
            for index in 0..<count {
                counter += 1
                var bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: counter) | 1, count: Int(block))
                for byte in 0..<8 { bytes[byte] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(byte))) }
                let offset = start + 2 * index * block
                try RawFile.write(descriptor, bytes, at: offset)
                item.touched.append(offset..<(offset + block))
            }
            newSize = max(size, start + (2 * count - 1) * block)
            item.log.append("fragment: \(count) blocks from \(start), every other one")
        }
        if newSize != size {
            // The bytes between the sizes, and the blocks at both ends (a partial block is zeroed).
            item.touched.append(min(size, newSize)..<max(size, newSize))
            for end in [size, newSize] where end % block != 0 { item.touched.append(end..<(end + 1)) }
        }
        return newSize
    }

    /// `ranges` rounded out to whole blocks, merged.
    static func blocks(_ ranges: [Range<Int64>]) -> [Range<Int64>] {
        let rounded = ranges.filter { !$0.isEmpty }
            .map { ($0.lowerBound / block * block)..<(($0.upperBound + block - 1) / block * block) }
            .sorted { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int64>] = []
        for range in rounded {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    /// Bytes of `ranges` (ascending, disjoint) outside `allowed` (ascending, disjoint), within `window`.
    static func outside(_ ranges: [Range<Int64>], _ allowed: [Range<Int64>], within window: Range<Int64>) -> Int64 {
        var total: Int64 = 0
        for range in ranges {
            let clipped = range.clamped(to: window)
            var covered: Int64 = 0
            for other in allowed where other.overlaps(clipped) { covered += Int64(other.clamped(to: clipped).count) }
            total += Int64(clipped.count) - covered
        }
        return total
    }

    struct Stats: CustomStringConvertible {
        var cases = 0
        var reported: Int64 = 0
        var touchedBlocks: Int64 = 0
        var differing: Int64 = 0
        var excess: Int64 = 0
        var casesWithExcess = 0
        var largestExcess: Int64 = 0
        var inline = 0
        var largestMap = 0
        var casesOverOneCall = 0
        var description: String {
            let mib = { (bytes: Int64) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
            return "\(cases) cases (\(inline) with an inline extent): diff \(mib(reported)), touched blocks \(mib(touchedBlocks)), differing 4K blocks \(mib(differing)); "
                + "outside the touched blocks \(excess) bytes in \(casesWithExcess) cases (largest \(largestExcess)); "
                + "largest extent map \(largestMap), \(casesOverOneCall) cases over 128 extents (one FIEMAP call)"
        }
    }

    @Test("random writes, discards and resizes between two reflink snapshots: every byte outside the diff is equal",
          .enabled(if: LoopMount.unavailable == nil,
                   "needs root with CAP_SYS_ADMIN, /dev/loop-control, mkfs.xfs, mkfs.btrfs and mount: \(LoopMount.unavailable ?? "")"),
          arguments: ["xfs", "btrfs"])
    func diffNeverMissesAChange(_ kind: String) throws {
        let started = ContinuousClock.now
        let mount = try LoopMount(kind)
        defer { mount.remove() }
        let live = LiveSystem()
        let storage = DirectoryStorage(id: "s", config: StorageConfig(path: mount.mountPoint), system: live)
        let directory = mount.mountPoint
        try Self.acrossWindows(directory, storage)
        var stats = Stats()
        var random = SplitMix(state: Self.seed ^ (kind == "xfs" ? 0 : 0x5bd1_e995))
        for index in 0..<Self.cases {
            var item = Case(seed: random.next())
            var caseRandom = SplitMix(state: item.seed)
            let reproduce = "seed \(Self.seed) (SPVE_REPLICATION_SEED), \(kind) case \(index)"
            let (livePath, oldPath, newPath) = (directory + "/live", directory + "/old", directory + "/new")
            let descriptor = try RawFile.create(livePath)
            var counter = UInt64(index) << 32
            var size = Self.size(&caseRandom)
            try RawFile.check(Int(ftruncate(descriptor, off_t(size))), "ftruncate")
            for _ in 0..<Int.random(in: 0...8, using: &caseRandom) {
                size = try Self.change(descriptor, size: size, &caseRandom, &counter, &item)
            }
            close(try RawFile.create(oldPath))
            try live.cloneFile(livePath, into: oldPath)
            item.baseSize = size
            item.touched = []
            item.log.append("-- snapshot (\(size) bytes)")
            for _ in 0..<Int.random(in: 1...10, using: &caseRandom) {
                size = try Self.change(descriptor, size: size, &caseRandom, &counter, &item)
            }
            close(descriptor)
            close(try RawFile.create(newPath))
            try live.cloneFile(livePath, into: newPath)
            item.newSize = size

            let old = try live.openFile(oldPath, writing: false)
            let new = try live.openFile(newPath, writing: false)
            defer { live.closeFile(old); live.closeFile(new) }
            #expect(try live.status(of: old).size == item.baseSize && live.status(of: new).size == item.newSize, "\(reproduce)")
            let ranges = try storage.changedRanges(from: old, size: item.baseSize, to: new, size: item.newSize, path: newPath)
            // The storage's answer is the extent maps' (FIEMAP works here: no content comparison).
            let common = min(item.baseSize, item.newSize)
            let maps = (old: try live.extents(of: old, from: 0, count: common), new: try live.extents(of: new, from: 0, count: common))
            let direct = ExtentDiff.changedRanges(old: maps.old, new: maps.new, in: 0..<common)
            stats.largestMap = max(stats.largestMap, maps.old.count, maps.new.count)
            if max(maps.old.count, maps.new.count) > 128 { stats.casesOverOneCall += 1 }
            let tail: [Range<Int64>] = common < item.newSize ? [common..<item.newSize] : []
            #expect(ExtentDiff.coalesced(direct + tail, gap: 1) == ranges, "\(reproduce)")
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound < $1.lowerBound }, "ascending, apart: \(ranges)")
            #expect(ranges.allSatisfy { !$0.isEmpty && $0.lowerBound >= 0 && $0.upperBound <= item.newSize }, "\(ranges)")

            // Never a change missed: every byte outside the ranges is the same in both.
            let before = try RawFile.contents(oldPath), after = try RawFile.contents(newPath)
            var gaps: [Range<Int64>] = []
            var start: Int64 = 0
            for range in ranges {
                if start < min(range.lowerBound, common) { gaps.append(start..<min(range.lowerBound, common)) }
                start = max(start, range.upperBound)
            }
            if start < common { gaps.append(start..<common) }
            var missed: Int64? = nil
            var differing: Int64 = 0
            before.withUnsafeBytes { old in
                after.withUnsafeBytes { new in
                    for gap in gaps where missed == nil {
                        let (from, count) = (Int(gap.lowerBound), Int(gap.count))
                        guard memcmp(old.baseAddress! + from, new.baseAddress! + from, count) != 0 else { continue }
                        var at = from
                        while old[at] == new[at] { at += 1 }
                        missed = Int64(at)
                    }
                    var offset: Int64 = 0
                    while offset < common {
                        let length = Int(min(Self.block, common - offset))
                        if memcmp(old.baseAddress! + Int(offset), new.baseAddress! + Int(offset), length) != 0 { differing += Int64(length) }
                        offset += Self.block
                    }
                }
            }
            if let missed {
                let maps = [old, new].map { (try? live.extents(of: $0, from: 0, count: max(common, 1))).map { "\($0)" } ?? "?" }
                Issue.record("""
                    a change at byte \(missed) is outside the diff \(ranges); \(reproduce)
                    \(item.log.joined(separator: "\n"))
                    old extents \(maps[0])
                    new extents \(maps[1])
                    """)
            }

            // Not wildly more than the change: within the touched blocks, but for an extent
            // inline in the metadata (btrfs keeps a small file's start there, also when the
            // file grew by truncate or fallocate): its block, in which the place says nothing.
            let inline = try [old, new].contains { descriptor in
                try live.extents(of: descriptor, from: 0, count: Self.block).contains { $0.flags.contains(.inline) }
            }
            let allowed = Self.blocks(item.touched + (inline ? [0..<Self.block] : []))
            if inline { stats.inline += 1 }
            let excess = Self.outside(ranges, allowed, within: 0..<common)
            stats.cases += 1
            stats.reported += ranges.reduce(0) { $0 + Int64($1.clamped(to: 0..<common).count) }
            stats.touchedBlocks += allowed.reduce(0) { $0 + Int64($1.clamped(to: 0..<common).count) }
            stats.differing += differing
            stats.excess += excess
            if excess > 0 { stats.casesWithExcess += 1 }
            stats.largestExcess = max(stats.largestExcess, excess)
            #expect(excess == 0, """
                \(excess) bytes of the diff \(ranges) outside the touched blocks \(allowed); \(reproduce)
                \(item.log.joined(separator: "\n"))
                """)
            for path in [livePath, oldPath, newPath] { unlink(path) }
            if missed != nil || excess > 0 { break }
        }
        print("replication diff on \(kind): \(stats), seed \(Self.seed), \(started.duration(to: .now))")
    }

    /// A sparse disk larger than the diff's 4 GiB window: changes at and across the window's
    /// bounds, in a hole, and growth are found, and nothing else.
    static func acrossWindows(_ directory: String, _ storage: DirectoryStorage) throws {
        let live = LiveSystem()
        let window: Int64 = 1 << 32
        let (livePath, oldPath, newPath) = (directory + "/big", directory + "/big-old", directory + "/big-new")
        defer { for path in [livePath, oldPath, newPath] { unlink(path) } }
        let descriptor = try RawFile.create(livePath)
        defer { close(descriptor) }
        let baseSize = 9 * (window / 4) + 16384 // 9 GiB and 16 KiB
        try RawFile.check(Int(ftruncate(descriptor, off_t(baseSize))), "ftruncate")
        try RawFile.write(descriptor, [UInt8](repeating: 0x41, count: 16384), at: window - 8192)
        try RawFile.write(descriptor, [UInt8](repeating: 0x42, count: 8192), at: 2 * window + 4096)
        try RawFile.write(descriptor, [UInt8](repeating: 0x43, count: 100), at: baseSize - 100)
        close(try RawFile.create(oldPath))
        try live.cloneFile(livePath, into: oldPath)
        try RawFile.write(descriptor, [UInt8](repeating: 0x51, count: 8192), at: window - 4096)
        try RawFile.write(descriptor, [UInt8](repeating: 0x52, count: 10), at: 2 * window + 8192)
        try RawFile.write(descriptor, [UInt8](repeating: 0x53, count: 4096), at: window + window / 4)
        let newSize = baseSize + (1 << 30) + 7
        try RawFile.check(Int(ftruncate(descriptor, off_t(newSize))), "ftruncate")
        close(try RawFile.create(newPath))
        try live.cloneFile(livePath, into: newPath)
        let old = try live.openFile(oldPath, writing: false)
        let new = try live.openFile(newPath, writing: false)
        defer { live.closeFile(old); live.closeFile(new) }
        let ranges = try storage.changedRanges(from: old, size: baseSize, to: new, size: newSize, path: newPath)
        #expect(ranges == [(window - 4096)..<(window + 4096), (window + window / 4)..<(window + window / 4 + 4096),
                           (2 * window + 8192)..<(2 * window + 12288), baseSize..<newSize])
    }

    @Test("replication rounds from XFS to btrfs and back: the target holds each snapshot, the stream only the change",
          .enabled(if: LoopMount.unavailable == nil,
                   "needs root with CAP_SYS_ADMIN, /dev/loop-control, mkfs.xfs, mkfs.btrfs and mount: \(LoopMount.unavailable ?? "")"))
    func rounds() throws {
        let started = ContinuousClock.now
        let xfs = try LoopMount("xfs")
        defer { xfs.remove() }
        let btrfs = try LoopMount("btrfs")
        defer { btrfs.remove() }
        for (from, to) in [(xfs, btrfs), (btrfs, xfs)] {
            try Self.replicate(from: from, to: to, rounds: 30)
        }
        print("replication rounds: \(started.duration(to: .now)), seed \(Self.seed)")
    }

    /// A disk on `from` changed at random between snapshots, each sent to `to` (the first
    /// whole, then from the previous one, which is then deleted on both, as PVE does).
    static func replicate(from: LoopMount, to: LoopMount, rounds: Int) throws {
        let live = LiveSystem()
        let source = DirectoryStorage(id: "a", config: StorageConfig(path: from.mountPoint + "/a"), system: live)
        let target = DirectoryStorage(id: "b", config: StorageConfig(path: to.mountPoint + "/b"), system: live)
        try live.makeDirectories(from.mountPoint + "/a/images/100")
        try live.makeDirectories(to.mountPoint + "/b")
        let volume = "100/vm-100-disk-0.raw"
        let path = from.mountPoint + "/a/images/" + volume
        let targetPath = to.mountPoint + "/b/images/" + volume
        let streamPath = from.mountPoint + "/stream"
        var random = SplitMix(state: seed ^ (from.kind == "xfs" ? 0x1111 : 0x2222))
        let descriptor = try RawFile.create(path)
        defer { close(descriptor) }
        var item = Case(seed: 0)
        var counter: UInt64 = 1 << 40
        var size = Self.size(&random)
        try RawFile.check(Int(ftruncate(descriptor, off_t(size))), "ftruncate")
        for _ in 0..<6 { size = try change(descriptor, size: size, &random, &counter, &item) }
        var previous: String?
        var sent = 0, snapshots = 0
        for round in 1...rounds {
            let reproduce = "seed \(seed) (SPVE_REPLICATION_SEED), \(from.kind) to \(to.kind), round \(round)"
            let baseSize = size
            item.touched = []
            if previous != nil {
                for _ in 0..<Int.random(in: 1...8, using: &random) { size = try change(descriptor, size: size, &random, &counter, &item) }
            }
            let name = "r\(round)"
            try source.takeSnapshot(volume, .named(name))
            let baseID = try source.snapshotInfo(volume).first { $0.name == previous }?.id
            let output = try RawFile.create(streamPath)
            do {
                try source.exportVolume(volume, format: .known(.raw), to: output, snapshot: name, baseSnapshot: previous,
                                        withSnapshots: true, className: "x")
            } catch {
                close(output)
                throw error
            }
            close(output)
            let stream = try RawFile.contents(streamPath)
            let input = open(streamPath, O_RDONLY | O_CLOEXEC)
            try RawFile.check(Int(input), "open \(streamPath)")
            defer { close(input) }
            let volid = try target.importVolume(volume, format: .known(.raw), from: input, snapshot: name, baseSnapshot: previous,
                                                withSnapshots: true, allowRename: false, className: "x", print: { _ in })
            #expect(volid == "b:" + volume)

            let expected = try RawFile.contents(path + "@" + name)
            #expect(expected.count == size, "\(reproduce)")
            #expect(try RawFile.contents(targetPath) == expected, "the volume is the snapshot; \(reproduce)\n\(item.log.joined(separator: "\n"))")
            #expect(try RawFile.contents(targetPath + "@" + name) == expected, "\(reproduce)")
            let identities = { (storage: DirectoryStorage) in
                try storage.snapshotInfo(volume).map { "\($0.name) \($0.id ?? "-") \($0.timestamp ?? -1)" }.sorted()
            }
            #expect(try identities(target) == identities(source), "\(reproduce)")
            #expect(try identities(source).allSatisfy { !$0.contains(" ino") }, "ids from the attribute, not the inode")

            // The stream carries the change: its data within the touched blocks and what grew
            // (and an inline block on btrfs), never the whole disk again.
            let (header, records) = try ReplicationStreams.read(stream).get()
            #expect(header.baseID == baseID && header.volumeSize == UInt64(size) && header.snapshot == name, "\(reproduce)")
            let data = records.reduce(Int64(0)) { total, record in
                if case .data(_, let bytes) = record { return total + Int64(bytes.count) }
                return total
            }
            if previous != nil {
                let grown: [Range<Int64>] = baseSize < size ? [baseSize..<size] : []
                let allowed = blocks(item.touched + grown + [0..<block]).reduce(Int64(0)) { $0 + Int64($1.clamped(to: 0..<size).count) }
                #expect(data <= allowed, "\(data) bytes of data sent for \(allowed) bytes touched; \(reproduce)\n\(item.log.joined(separator: "\n"))")
                sent += stream.count
                snapshots += 1
                _ = try source.deleteSnapshot(volume, .named(previous!), running: false)
                _ = try target.deleteSnapshot(volume, .named(previous!), running: false)
            } else {
                #expect(data <= size)
            }
            #expect(try live.listDirectory(to.mountPoint + "/b/images/100").compactMap(\.name).sorted()
                == ["vm-100-disk-0.raw", "vm-100-disk-0.raw@\(name)"], "no temporaries left; \(reproduce)")
            previous = name
            item.log.append("-- snapshot \(name) (\(size) bytes)")
        }
        print("replication rounds \(from.kind) to \(to.kind): \(snapshots) incremental streams, \(sent) bytes")
    }
}
