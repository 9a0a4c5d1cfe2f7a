/// The binary encoding of ``Value`` shared with the XS glue (see include/swiftplugin.h).
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
        var output: [UInt8] = []
        output.reserveCapacity(256)
        append(result, to: &output)
        for section in sections {
            output.append(section.tag)
            append(section.value, to: &output)
        }
        return output
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

    private static func append(_ value: Value, to output: inout [UInt8]) {
        switch value {
        case .undef:
            output.append(UInt8(ascii: "U"))
        case .int(let number):
            output.append(UInt8(ascii: "I"))
            appendInteger(UInt64(bitPattern: number), to: &output)
        case .double(let number):
            output.append(UInt8(ascii: "N"))
            appendInteger(number.bitPattern, to: &output)
        case .string(let text):
            output.append(UInt8(ascii: "S"))
            appendBytes(text.utf8, to: &output)
        case .bytes(let bytes):
            output.append(UInt8(ascii: "S"))
            appendBytes(bytes, to: &output)
        case .text(let text):
            output.append(UInt8(ascii: "T"))
            appendBytes(text.utf8, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "A"))
            appendLength(elements.count, to: &output)
            for element in elements { append(element, to: &output) }
        case .hash(let members):
            output.append(UInt8(ascii: "H"))
            appendLength(members.count, to: &output)
            for (key, member) in members {
                appendBytes(key.utf8, to: &output)
                append(member, to: &output)
            }
        }
    }

    private static func appendInteger(_ number: UInt64, to output: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) { output.append(UInt8(truncatingIfNeeded: number >> UInt64(shift))) }
    }

    private static func appendLength(_ count: Int, to output: inout [UInt8]) {
        let length = UInt32(clamping: count)
        for shift in stride(from: 0, to: 32, by: 8) { output.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
    }

    private static func appendBytes<C: Collection>(_ bytes: C, to output: inout [UInt8]) where C.Element == UInt8 {
        appendLength(bytes.count, to: &output)
        output.append(contentsOf: bytes)
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
                members.reserveCapacity(count)
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

    /// The bytes as a String when they are valid UTF-8; ASCII, the usual case, is
    /// taken without validating it byte by byte through the generic path.
    static func string(_ raw: UnsafeRawBufferPointer) -> String? {
        let bytes = raw.assumingMemoryBound(to: UInt8.self)
        if isASCII(raw) { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The bytes as a String, invalid UTF-8 replaced (hash keys: PVE's are ASCII).
    static func lossyString(_ raw: UnsafeRawBufferPointer) -> String {
        String(decoding: raw.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
    }

    static func isASCII(_ raw: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = raw.count
        while index + 8 <= count {
            if raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            index += 8
        }
        while index < count {
            if raw[index] >= 0x80 { return false }
            index += 1
        }
        return true
    }
}
