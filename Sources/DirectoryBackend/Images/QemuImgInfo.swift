import PVEStorage

/// A JSON value (RFC 8259), as `qemu-img info --output=json` writes it. The core has no
/// Foundation: ``JSONReader`` is a small, bounded parser. The text comes from qemu-img,
/// but the file names inside it come from the image, so every read is checked: a
/// malformed or unexpectedly deep document is nil, never a trap.
indirect enum JSONValue: Equatable, Sendable {
    case object([JSONMember])
    case array([JSONValue])
    case string(String)
    /// The number as written (qemu-img writes integers).
    case number(String)
    case bool(Bool)
    case null

    /// The member `key` of an object (the last one, should a key repeat), nil otherwise.
    subscript(_ key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var array: [JSONValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// An integer that fits an Int64.
    var integer: Int64? {
        if case .number(let text) = self { return Int64(text) }
        return nil
    }
}

struct JSONMember: Equatable, Sendable {
    var key: String
    var value: JSONValue
}

/// Parses one JSON document (surrounded by white space only).
struct JSONReader {
    /// Nesting deeper than this is refused (qemu-img's output nests a few levels).
    static let maximumDepth = 64
    /// Documents larger than this are refused.
    static let maximumLength = 4 << 20

    private let bytes: [UInt8]
    private var index = 0

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        guard bytes.count <= maximumLength else { return nil }
        var reader = JSONReader(bytes)
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipSpace()
        return reader.index == bytes.count ? value : nil
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    private mutating func consume(_ literal: String) -> Bool {
        let expected = Array(literal.utf8)
        guard bytes.count - index >= expected.count, Array(bytes[index..<(index + expected.count)]) == expected else { return false }
        index += expected.count
        return true
    }

    private mutating func value(depth: Int) -> JSONValue? {
        guard depth < Self.maximumDepth else { return nil }
        skipSpace()
        guard let byte = current else { return nil }
        switch byte {
        case UInt8(ascii: "{"):
            index += 1
            var members: [JSONMember] = []
            skipSpace()
            if current == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard current == UInt8(ascii: "\""), let key = string() else { return nil }
                skipSpace()
                guard current == UInt8(ascii: ":") else { return nil }
                index += 1
                guard let member = value(depth: depth + 1) else { return nil }
                members.append(JSONMember(key: key, value: member))
                skipSpace()
                if current == UInt8(ascii: ",") { index += 1; continue }
                guard current == UInt8(ascii: "}") else { return nil }
                index += 1
                return .object(members)
            }
        case UInt8(ascii: "["):
            index += 1
            var values: [JSONValue] = []
            skipSpace()
            if current == UInt8(ascii: "]") {
                index += 1
                return .array(values)
            }
            while true {
                guard let element = value(depth: depth + 1) else { return nil }
                values.append(element)
                skipSpace()
                if current == UInt8(ascii: ",") { index += 1; continue }
                guard current == UInt8(ascii: "]") else { return nil }
                index += 1
                return .array(values)
            }
        case UInt8(ascii: "\""):
            return string().map { .string($0) }
        case UInt8(ascii: "t"): return consume("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return consume("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return consume("null") ? .null : nil
        default: return number()
        }
    }

    /// `-?digits(.digits)?([eE][+-]?digits)?`, kept as written.
    private mutating func number() -> JSONValue? {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        func digits(_ reader: inout JSONReader) -> Bool {
            let first = reader.index
            while let byte = reader.current, (0x30...0x39).contains(byte) { reader.index += 1 }
            return reader.index > first
        }
        guard digits(&self) else { return nil }
        if current == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) else { return nil }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) else { return nil }
        }
        return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    /// A string at the opening quote: escapes decoded (surrogate pairs joined), raw control
    /// characters and text that is not UTF-8 refused.
    private mutating func string() -> String? {
        guard current == UInt8(ascii: "\"") else { return nil }
        index += 1
        var result: [UInt8] = []
        while let byte = current {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: result, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = current else { return nil }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): result.append(escaped)
                case UInt8(ascii: "b"): result.append(0x08)
                case UInt8(ascii: "f"): result.append(0x0C)
                case UInt8(ascii: "n"): result.append(0x0A)
                case UInt8(ascii: "r"): result.append(0x0D)
                case UInt8(ascii: "t"): result.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard consume("\\u"), let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { return nil }
                    result += Array(String(Character(unicode)).utf8)
                default: return nil
                }
            default:
                guard byte >= 0x20 else { return nil }
                result.append(byte)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard bytes.count - index >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: return nil
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}

/// What `qemu-img info --output=json` says about one image: the files QEMU opens with it.
public struct QemuImageInfo: Equatable, Sendable {
    public var filename: String
    public var format: String
    public var virtualSize: Int64
    /// `backing-filename` (or `full-backing-filename`), when the image names one.
    public var backingFile: String?
    /// A qcow2 image's external data file (`format-specific.data.data-file`).
    public var dataFile: String?
    /// A vmdk image's extents (`format-specific.data.extents[].filename`); nil when not listed.
    public var extents: [String]?

    /// Nil when the text is not the JSON object qemu-img writes (or misses a field).
    public init?(json: [UInt8]) {
        guard let document = JSONReader.parse(json), let filename = document["filename"]?.string,
              let format = document["format"]?.string, let size = document["virtual-size"]?.integer else { return nil }
        self.filename = filename
        self.format = format
        virtualSize = size
        if let backing = document["backing-filename"] ?? document["full-backing-filename"] {
            guard let name = backing.string else { return nil }
            backingFile = name
        }
        let data = document["format-specific"]?["data"]
        if let file = data?["data-file"] {
            guard let name = file.string else { return nil }
            dataFile = name
        }
        if let list = data?["extents"] {
            guard let values = list.array else { return nil }
            var names: [String] = []
            for extent in values {
                guard let name = extent["filename"]?.string else { return nil }
                names.append(name)
            }
            extents = names
        }
    }

    /// `qemu-img info -f <format> --output=json <path>`: never opens a backing file.
    static func command(path: String, format: ImageFormat) -> Command {
        Command(QemuImg.executable, ["info", "-f", format.description, "--output=json", path], timeout: 60)
    }
}
