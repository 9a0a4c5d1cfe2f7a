import DirectoryBackend
import PVEStorage
import PVEStoragePerl
import SwiftPlugin

/// The replication stream (`volume_import` with snapshots reads it from `$fh`, sent by
/// the other node), the snapshot id attribute read from a snapshot file, and the extent
/// comparison that picks what an incremental stream sends. The same bytes feed all three.
enum ReplicationStreamTarget {
    /// The record buffer, as large as the import's: allocated once, not per input.
    nonisolated(unsafe) static let buffer = UnsafeMutableRawBufferPointer.allocate(
        byteCount: ReplicationStream.maximumRecord, alignment: 16)

    static func run(_ input: [UInt8]) {
        checkStream(input)
        checkIdentity(input)
        ExtentDiffCheck.run(input)
    }

    // MARK: - The stream

    /// A stream's bytes in memory, read as a pipe is read: in full but at the end.
    struct MemoryInput: ReplicationInput {
        let bytes: [UInt8]
        var position = 0

        mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
            let count = min(buffer.count, bytes.count - position)
            guard count > 0 else { return 0 }
            bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[position..<(position + count)]))
            }
            position += count
            return count
        }
    }

    struct MemoryOutput: ReplicationOutput {
        var bytes: [UInt8] = []
        mutating func write(_ buffer: UnsafeRawBufferPointer) throws(StorageError) { bytes.append(contentsOf: buffer) }
    }

    enum Record: Equatable {
        case data(offset: UInt64, bytes: [UInt8])
        case zero(offset: UInt64, length: UInt64)
    }

    struct Parsed {
        var header: ReplicationHeader?
        var records: [Record] = []
        /// nil: accepted (the end record, a matching trailer, nothing after it).
        var failure: ReplicationStreamError?
        /// Bytes the reader had consumed when it stopped.
        var consumed = 0
    }

    /// Reads the header and the records until the end or a refusal, checking every
    /// record as it comes: in order, not overlapping, within the volume, a data record
    /// no longer than the stream's maximum.
    static func parse(_ input: [UInt8]) -> Parsed {
        var reader = ReplicationStreamReader(MemoryInput(bytes: input))
        var parsed = Parsed()
        func stop(_ error: ReplicationStreamReader<MemoryInput>.Failure) -> Parsed {
            switch error {
            case .stream(let failure): parsed.failure = failure
            case .input(let failure): violated("the memory input failed: \(failure)")
            }
            parsed.consumed = reader.input.position
            return parsed
        }
        let header: ReplicationHeader
        do { header = try reader.readHeader() } catch { return stop(error) }
        parsed.header = header
        if header.volumeSize == 0 || header.volumeSize > UInt64(Int64.max) { violated("volume size \(header.volumeSize) accepted") }
        var previousEnd: UInt64 = 0
        while true {
            let record: ReplicationRecord?
            do { record = try reader.next(into: buffer) } catch { return stop(error) }
            guard let record else { break }
            let offset: UInt64, length: UInt64
            switch record {
            case .data(let at, let count):
                guard count > 0, count <= ReplicationStream.maximumRecord else { violated("data record of \(count) bytes") }
                (offset, length) = (at, UInt64(count))
                parsed.records.append(.data(offset: at, bytes: Array(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))))
            case .zero(let at, let count):
                guard count > 0 else { violated("empty zero record") }
                (offset, length) = (at, count)
                parsed.records.append(.zero(offset: at, length: count))
            }
            let (end, overflow) = offset.addingReportingOverflow(length)
            guard !overflow, end <= header.volumeSize else {
                violated("record \(offset)+\(length) outside the volume of \(header.volumeSize) bytes")
            }
            guard offset >= previousEnd else { violated("record at \(offset) before the previous end \(previousEnd)") }
            previousEnd = end
        }
        // After the end: nothing more, and the whole input was read.
        do {
            if try reader.next(into: buffer) != nil { violated("a record after the end") }
        } catch { violated("an error after the end: \(error)") }
        parsed.consumed = reader.input.position
        if parsed.consumed != input.count { violated("accepted after \(parsed.consumed) of \(input.count) bytes") }
        return parsed
    }

    static func checkStream(_ input: [UInt8]) {
        let parsed = parse(input)
        // A stream refused only for its checksum: the trailer is the last 8 bytes read.
        // With the XXH64 of what precedes it, the same stream must be accepted (or refused
        // for the bytes after the trailer), with the same records.
        if parsed.failure == .checksumMismatch {
            let trailer = parsed.consumed - 8
            guard trailer >= ReplicationStream.fixedHeaderLength + 1 else { violated("a trailer at \(trailer)") }
            var hasher = XXHash64()
            hasher.update(Array(input[0..<trailer]))
            var fixed = Array(input[0..<trailer])
            fixed.appendLittleEndian(hasher.finalize())
            fixed += input[parsed.consumed...]
            let again = parse(fixed)
            guard again.header == parsed.header, again.records == parsed.records else {
                violated("a stream read differently with its checksum fixed")
            }
            let expected: ReplicationStreamError? = parsed.consumed == input.count ? nil : .trailingData
            guard again.failure == expected else {
                violated("with the XXH64 of its \(trailer) bytes as trailer: \(again.failure.map { "\($0)" } ?? "accepted"), not \(expected.map { "\($0)" } ?? "accepted")")
            }
            if again.failure == nil { checkAccepted(again, fixed) }
        } else if parsed.failure == nil {
            checkAccepted(parsed, input)
        }
    }

    /// An accepted stream, written again from its header and records, is the same bytes.
    static func checkAccepted(_ parsed: Parsed, _ input: [UInt8]) {
        guard let header = parsed.header else { violated("accepted without a header") }
        guard SnapshotIdentity(encoded: header.identity.encoded) == header.identity else {
            violated("the stream's snapshot identity \(header.identity) does not survive its attribute encoding")
        }
        var writer = ReplicationStreamWriter(MemoryOutput())
        do {
            try writer.writeHeader(header)
            for record in parsed.records {
                switch record {
                case .data(let offset, let bytes):
                    var failure: StorageError?
                    bytes.withUnsafeBytes { data in
                        do throws(StorageError) { try writer.writeData(data, at: offset) } catch { failure = error }
                    }
                    if let failure { throw failure }
                case .zero(let offset, let length): try writer.writeZero(at: offset, length: length)
                }
            }
            try writer.finish()
        } catch { violated("writing to memory failed: \(error)") }
        let written = writer.output.bytes
        guard written == input else {
            let at = zip(written, input).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(written.count, input.count)
            violated("re-encoded stream differs at byte \(at) (\(written.count) bytes written, \(input.count) read)")
        }
    }

    // MARK: - The snapshot id attribute

    /// `1 <id> <timestamp>` from a snapshot file's extended attribute: what is accepted is
    /// exactly what the plugin writes for it.
    static func checkIdentity(_ input: [UInt8]) {
        guard let identity = SnapshotIdentity(encoded: input) else { return }
        guard SnapshotIdentity.isValidID(identity.id) else { violated("invalid id '\(identity.id)' accepted") }
        guard identity.encoded == input else { violated("attribute value accepted but encoded differently: \(identity)") }
    }
}

// MARK: - Extent comparison

/// `ExtentDiff.changedRanges` (and `coalesced`) over two extent lists decoded from the
/// input, against a per-byte oracle over a window of at most 1 KiB.
///
/// Decoding (missing bytes read as 0): window start u8, window length u16 % 1025,
/// coalescing gap u8; then twice a list: count u8 % 17, then per extent a control byte,
/// three u16 a, b, c and flags u16 (FIEMAP flags, & 0x3fff). Control bit 0x80: a, b, c
/// are i64 instead (logical, length, physical as they are, overflow and disorder
/// included); otherwise logical is a (bit 0x40) or the previous extent's end plus a % 256,
/// length b, physical c.
enum ExtentDiffCheck {
    struct Cursor {
        let bytes: [UInt8]
        var index = 0
        mutating func byte() -> UInt8 {
            defer { index += 1 }
            return index < bytes.count ? bytes[index] : 0
        }
        mutating func u16() -> Int64 { Int64(byte()) | Int64(byte()) << 8 }
        mutating func i64() -> Int64 {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 8) { value |= UInt64(byte()) << UInt64(shift) }
            return Int64(bitPattern: value)
        }
    }

    static func decodeList(_ cursor: inout Cursor) -> [FileExtent] {
        var extents: [FileExtent] = []
        var end: Int64 = 0
        for _ in 0..<(Int(cursor.byte()) % 17) {
            let control = cursor.byte()
            let extent: FileExtent
            if control & 0x80 != 0 {
                let logical = cursor.i64(), length = cursor.i64(), physical = cursor.i64()
                extent = FileExtent(logical: logical, physical: physical, length: length,
                                    flags: FileExtent.Flags(rawValue: UInt32(cursor.u16()) & 0x3fff))
            } else {
                let a = cursor.u16(), length = cursor.u16(), physical = cursor.u16()
                let logical = control & 0x40 != 0 ? a : end &+ (a & 0xff)
                extent = FileExtent(logical: logical, physical: physical, length: length,
                                    flags: FileExtent.Flags(rawValue: UInt32(cursor.u16()) & 0x3fff))
            }
            end = extent.logical &+ extent.length
            extents.append(extent)
        }
        return extents
    }

    static func run(_ input: [UInt8]) {
        var cursor = Cursor(bytes: input)
        let start = Int64(cursor.byte())
        let window = start..<(start + cursor.u16() % 1025)
        let gap = Int64(cursor.byte())
        let old = decodeList(&cursor), new = decodeList(&cursor)

        let changed = ExtentDiff.changedRanges(old: old, new: new, in: window)
        checkRanges(changed, in: window, what: "changed ranges", merged: true)
        if window.isEmpty, !changed.isEmpty { violated("changed ranges \(changed) in an empty window") }
        // Every byte that reads differently (or unknowably) is in a changed range.
        let oldReadings = readings(old, in: window), newReadings = readings(new, in: window)
        var index = 0
        for byte in window {
            let before = oldReadings?[Int(byte - window.lowerBound)], after = newReadings?[Int(byte - window.lowerBound)]
            let same = before != nil && before == after && before != .unknown
            if same { continue }
            while index < changed.count, changed[index].upperBound <= byte { index += 1 }
            guard index < changed.count, changed[index].contains(byte) else {
                violated("byte \(byte) reads \(describe(before)) before and \(describe(after)) after, not in \(changed); old \(old), new \(new)")
            }
        }

        // Coalescing keeps every byte, and leaves gaps of at least `gap` between ranges.
        let merged = ExtentDiff.coalesced(changed, gap: gap)
        checkRanges(merged, in: window, what: "coalesced ranges", merged: false)
        for (left, right) in zip(merged, merged.dropFirst()) where right.lowerBound - left.upperBound < gap {
            violated("coalesced ranges \(left) and \(right) closer than \(gap)")
        }
        for range in changed where !merged.contains(where: { $0.lowerBound <= range.lowerBound && range.upperBound <= $0.upperBound }) {
            violated("\(range) lost by coalescing: \(merged)")
        }
    }

    /// Non-empty, within the window, ascending and disjoint (and, where adjacent ranges
    /// are merged, never touching).
    static func checkRanges(_ ranges: [Range<Int64>], in window: Range<Int64>, what: String, merged: Bool) {
        for range in ranges where range.isEmpty || range.lowerBound < window.lowerBound || range.upperBound > window.upperBound {
            violated("\(what) \(ranges): \(range) is empty or outside \(window)")
        }
        for (left, right) in zip(ranges, ranges.dropFirst()) {
            if merged ? right.lowerBound <= left.upperBound : right.lowerBound < left.upperBound {
                violated("\(what) \(ranges) not ascending and disjoint at \(left), \(right)")
            }
        }
    }

    /// How a byte of a file reads, by its extent map.
    enum Reading: Equatable {
        case zeros
        /// The device address of the byte.
        case address(Int64)
        /// The map does not say (an untrusted location).
        case unknown
    }

    /// What each byte of the window reads; nil when the list is not a usable map
    /// (an empty or overflowing extent, or extents out of order or overlapping): then
    /// every byte counts as changed.
    static func readings(_ extents: [FileExtent], in window: Range<Int64>) -> [Reading]? {
        var previousEnd = Int64.min
        for extent in extents {
            let (end, overflow) = extent.logical.addingReportingOverflow(extent.length)
            if overflow || extent.length <= 0 || extent.logical < previousEnd { return nil }
            previousEnd = end
        }
        return window.map { byte in
            // The last extent holding the byte (there is at most one).
            guard let extent = extents.last(where: { $0.logical <= byte && UInt64(bitPattern: byte &- $0.logical) < UInt64($0.length) }) else {
                return .zeros
            }
            if !extent.flags.isDisjoint(with: FileExtent.Flags.untrustedLocation) { return .unknown }
            if extent.flags.contains(.unwritten) { return .zeros }
            return .address(extent.physical &+ (byte &- extent.logical))
        }
    }

    static func describe(_ reading: Reading?) -> String {
        reading.map { "\($0)" } ?? "(unusable map)"
    }
}

extension Array where Element == UInt8 {
    fileprivate mutating func appendLittleEndian(_ value: UInt64) {
        for index in 0..<8 { append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }
}
