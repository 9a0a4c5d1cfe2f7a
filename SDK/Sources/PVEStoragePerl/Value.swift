import PVEStorage

/// A Perl value as it crosses the C ABI: what the XS glue makes of an SV and
/// what it turns back into one.
///
/// Strings keep Perl's distinction between byte strings (file names, volume
/// IDs: PVE handles them as bytes) and character strings (notes, which PVE
/// decodes from UTF-8). Accessors follow Perl's own conversions, so a config
/// value `"1"` and an integer `1` read the same.
public enum Value: Equatable, Sendable {
    case undef
    case int(Int64)
    case double(Double)
    /// A byte string that is valid UTF-8 (the usual case for names and paths).
    case string(String)
    /// A byte string that is not valid UTF-8; kept so it can be reported, never used as a path.
    case bytes([UInt8])
    /// A character string: Perl gets it with the UTF-8 flag on.
    case text(String)
    case array([Value])
    case hash([String: Value])
}

extension Value {
    public var isDefined: Bool {
        if case .undef = self { return false }
        return true
    }

    /// Perl's truth: undef, "", "0", 0 and 0.0 are false; everything else is true.
    public var isTrue: Bool {
        switch self {
        case .undef: return false
        case .int(let value): return value != 0
        case .double(let value): return value != 0
        case .string(let text), .text(let text): return !(text.isEmpty || text == "0")
        case .bytes(let bytes): return !(bytes.isEmpty || bytes == [0x30])
        case .array, .hash: return true
        }
    }

    /// The value as Perl would stringify a scalar; nil for undef, invalid UTF-8 and references.
    public var string: String? {
        switch self {
        case .string(let text), .text(let text): return text
        case .int(let value): return String(value)
        case .double(let value):
            if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
            return String(value)
        case .undef, .bytes, .array, .hash: return nil
        }
    }

    /// The value as an integer when it is one, or a string of decimal digits (optionally signed).
    public var int: Int64? {
        switch self {
        case .int(let value): return value
        case .double(let value):
            guard value.rounded() == value, let exact = Int64(exactly: value) else { return nil }
            return exact
        case .string(let text), .text(let text): return Int64(text)
        case .undef, .bytes, .array, .hash: return nil
        }
    }

    public var hash: [String: Value]? {
        if case .hash(let members) = self { return members }
        return nil
    }

    public var array: [Value]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// A member of a hash value; undef when absent or when this is not a hash.
    public subscript(key: String) -> Value {
        hash?[key] ?? .undef
    }

    /// A short, printable description of the value for error messages; bytes that
    /// are not UTF-8 are shown as `\xNN`.
    public var printable: String {
        switch self {
        case .bytes(let bytes): return Self.escaped(bytes)
        case .array: return "ARRAY"
        case .hash: return "HASH"
        default: return string ?? ""
        }
    }
}

extension Value {
    static func escaped(_ bytes: [UInt8]) -> String {
        var text = ""
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = lead < 0x80 ? 1 : (0xC2...0xDF).contains(lead) ? 2 : (0xE0...0xEF).contains(lead) ? 3
                : (0xF0...0xF4).contains(lead) ? 4 : 0
            if length > 0, index + length <= bytes.count,
               let character = String(validating: bytes[index..<(index + length)], as: UTF8.self) {
                text += character
                index += length
            } else {
                let hex = String(lead, radix: 16)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
                index += 1
            }
        }
        return text
    }
}

extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(nilLiteral: ()) { self = .undef }
    public init(arrayLiteral elements: Value...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, Value)...) {
        self = .hash(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension Value {
    /// A byte string, or undef for nil.
    public static func optional(_ text: String?) -> Value {
        text.map(Value.string) ?? .undef
    }
}
