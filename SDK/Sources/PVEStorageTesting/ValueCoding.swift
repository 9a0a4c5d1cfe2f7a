import PVEStorage
import PVEStoragePerl

/// A binary encoding of ``Value``: how fuzz targets make Perl values of their input bytes.
/// Tags: U undef, I int64, N float64, S bytes, T UTF-8 text, A array, H hash; integers
/// little-endian, lengths and counts as uint32.
///
/// Decoding treats its input as untrusted: every length is checked against the
/// remaining bytes and nesting is bounded, so a malformed request is an error,
/// never a trap.
public enum ValueCoding {
    /// Deeper nesting than this is refused; PVE's structures are a few levels deep.
    static let maximumDepth = 64

    public struct DecodingError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    public static func encode(_ value: Value) -> [UInt8] {
        encodeReply(value, sections: [])
    }

    /// A reply: the result, then each section as its tag byte and value.
    public static func encodeReply(_ result: Value, sections: [(tag: UInt8, value: Value)]) -> [UInt8] {
        let size = replySize(result, sections: sections)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = writeReply(result, sections: sections, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// The number of bytes ``writeReply(_:sections:into:)`` writes.
    public static func replySize(_ result: Value, sections: [(tag: UInt8, value: Value)]) -> Int {
        sections.reduce(size(of: result)) { $0 + 1 + size(of: $1.value) }
    }

    /// Writes a reply into `buffer`, which holds at least ``replySize(_:sections:)``
    /// bytes; returns the number written. Two passes (size, then bytes) spare the
    /// growing of a buffer and a copy.
    public static func writeReply(_ result: Value, sections: [(tag: UInt8, value: Value)],
                                  into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var writer = Writer(buffer: buffer)
        writer.append(result)
        for section in sections {
            writer.byte(section.tag)
            writer.append(section.value)
        }
        return writer.offset
    }

    static func size(of value: Value) -> Int {
        switch value {
        case .undef: return 1
        case .int, .double: return 9
        case .string(let text), .text(let text): return 5 + text.utf8.count
        case .bytes(let bytes): return 5 + bytes.count
        case .array(let elements): return elements.reduce(5) { $0 + size(of: $1) }
        case .hash(let members): return members.reduce(5) { $0 + 4 + $1.key.utf8.count + size(of: $1.value) }
        }
    }

    private struct Writer {
        let buffer: UnsafeMutableRawBufferPointer
        var offset = 0

        mutating func byte(_ byte: UInt8) {
            buffer[offset] = byte
            offset += 1
        }

        mutating func integer(_ number: UInt64) {
            buffer.storeBytes(of: number.littleEndian, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }

        mutating func length(_ count: Int) {
            buffer.storeBytes(of: UInt32(clamping: count).littleEndian, toByteOffset: offset, as: UInt32.self)
            offset += 4
        }

        mutating func bytes(_ text: String) {
            var text = text
            text.withUTF8 { bytes(UnsafeRawBufferPointer($0)) }
        }

        mutating func bytes(_ source: UnsafeRawBufferPointer) {
            length(source.count)
            if let base = source.baseAddress, source.count > 0 {
                (buffer.baseAddress! + offset).copyMemory(from: base, byteCount: source.count)
            }
            offset += source.count
        }

        mutating func append(_ value: Value) {
            switch value {
            case .undef:
                byte(UInt8(ascii: "U"))
            case .int(let number):
                byte(UInt8(ascii: "I"))
                integer(UInt64(bitPattern: number))
            case .double(let number):
                byte(UInt8(ascii: "N"))
                integer(number.bitPattern)
            case .string(let text):
                byte(UInt8(ascii: "S"))
                bytes(text)
            case .bytes(let raw):
                byte(UInt8(ascii: "S"))
                raw.withUnsafeBytes { bytes($0) }
            case .text(let text):
                byte(UInt8(ascii: "T"))
                bytes(text)
            case .array(let elements):
                byte(UInt8(ascii: "A"))
                length(elements.count)
                for element in elements { append(element) }
            case .hash(let members):
                byte(UInt8(ascii: "H"))
                length(members.count)
                for (key, member) in members {
                    bytes(key)
                    append(member)
                }
            }
        }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodingError) -> Value {
        var reader = Reader(bytes: bytes, offset: 0)
        let value = try reader.value(depth: 0)
        guard reader.offset == bytes.count else {
            throw DecodingError(description: "trailing bytes after value")
        }
        return value
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> Value {
        var result: Result<Value, DecodingError> = .failure(DecodingError(description: "empty"))
        bytes.withUnsafeBytes { buffer in
            do throws(DecodingError) { result = .success(try decode(buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset: Int

        /// Passes over one value, with the checks of ``value(depth:)`` but building nothing.
        mutating func skip(depth: Int) throws(DecodingError) {
            guard depth <= ValueCoding.maximumDepth else { throw DecodingError(description: "nesting too deep") }
            switch try byte() {
            case UInt8(ascii: "U"): return
            case UInt8(ascii: "I"), UInt8(ascii: "N"): _ = try integer(width: 8)
            case UInt8(ascii: "S"): _ = try data()
            case UInt8(ascii: "T"): _ = try characters()
            case UInt8(ascii: "A"):
                for _ in 0..<(try length()) { try skip(depth: depth + 1) }
            case UInt8(ascii: "H"):
                for _ in 0..<(try length()) {
                    _ = try data()
                    try skip(depth: depth + 1)
                }
            case let tag:
                throw DecodingError(description: "unknown value tag \(tag)")
            }
        }

        mutating func value(depth: Int) throws(DecodingError) -> Value {
            guard depth <= ValueCoding.maximumDepth else { throw DecodingError(description: "nesting too deep") }
            switch try byte() {
            case UInt8(ascii: "U"): return .undef
            case UInt8(ascii: "I"): return .int(Int64(bitPattern: try integer(width: 8)))
            case UInt8(ascii: "N"): return .double(Double(bitPattern: try integer(width: 8)))
            case UInt8(ascii: "S"):
                let raw = try data()
                if let text = ValueCoding.string(raw) { return .string(text) }
                return .bytes(Array(raw))
            case UInt8(ascii: "T"):
                return .text(try characters())
            case UInt8(ascii: "A"):
                let count = try length()
                var elements: [Value] = []
                elements.reserveCapacity(Swift.min(count, bytes.count - offset))
                for _ in 0..<count { elements.append(try value(depth: depth + 1)) }
                return .array(elements)
            case UInt8(ascii: "H"):
                let count = try length()
                var members: [String: Value] = [:]
                // A member takes at least 5 bytes: a count cannot reserve more than the input holds.
                members.reserveCapacity(Swift.min(count, (bytes.count - offset) / 5))
                for _ in 0..<count {
                    let key = ValueCoding.lossyString(try data())
                    members[key] = try value(depth: depth + 1)
                }
                return .hash(members)
            case let tag:
                throw DecodingError(description: "unknown value tag \(tag)")
            }
        }

        mutating func byte() throws(DecodingError) -> UInt8 {
            guard offset < bytes.count else { throw DecodingError(description: "truncated value") }
            defer { offset += 1 }
            return bytes[offset]
        }

        /// A little-endian number of `width` (4 or 8) bytes.
        mutating func integer(width: Int) throws(DecodingError) -> UInt64 {
            guard bytes.count - offset >= width else { throw DecodingError(description: "truncated number") }
            defer { offset += width }
            if width == 4 { return UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
            return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }

        mutating func length() throws(DecodingError) -> Int {
            let count = Int(try integer(width: 4))
            // Every element takes at least one byte, so a larger count cannot be honest.
            guard count <= bytes.count - offset else { throw DecodingError(description: "length exceeds input") }
            return count
        }

        /// The next `length`-prefixed bytes, as a view into the input (no copy).
        mutating func data() throws(DecodingError) -> UnsafeRawBufferPointer {
            let count = try length()
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        }

        /// The next character string (`T`'s data), which must be UTF-8.
        mutating func characters() throws(DecodingError) -> String {
            guard let text = ValueCoding.string(try data()) else {
                throw DecodingError(description: "character string is not valid UTF-8")
            }
            return text
        }
    }

    /// The bytes as a String when they are valid UTF-8.
    static func string(_ raw: UnsafeRawBufferPointer) -> String? { PerlText.string(raw) }

    /// The bytes as a String, invalid UTF-8 replaced (hash keys: PVE's are ASCII).
    static func lossyString(_ raw: UnsafeRawBufferPointer) -> String {
        String(decoding: raw.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
    }
}
