// The values PVE's plugin API passes that mean more than a string: the typed
// arguments every storage plugin reads.

/// Which state of a volume a method is asked about: PVE's `$snapname`.
///
/// Perl distinguishes three cases that matter here: no snapshot (undef), the
/// `current` state of a volume chain, and a named snapshot. A name that is
/// defined but false (`''`, `'0'`) still asks for a snapshot, as `dir`'s
/// `defined($snapname)` tests do, but names none.
public enum SnapshotSelector: Equatable, Sendable {
    case none
    case current
    case named(String)

    public init(_ name: String?) {
        switch name {
        case nil: self = .none
        case "current": self = .current
        case let name?: self = .named(name)
        }
    }

    /// A snapshot (or the current state) was asked for: Perl's `defined`.
    public var isRequested: Bool { self != .none }

    /// Perl's truth of the name: a real snapshot or `current`.
    public var isTrue: Bool {
        switch self {
        case .none: return false
        case .current: return true
        case .named(let name): return !name.isEmpty && name != "0"
        }
    }

    /// The snapshot's name when it names one (not `current`, not a false name).
    public var name: String? {
        if case .named(let name) = self, isTrue { return name }
        return nil
    }
}

/// A Perl scalar where PVE passes a number that programs get as text (sizes, retention
/// counts): its string, its numeric value and its truth, as Perl sees them.
public struct Scalar: Equatable, Sendable {
    /// How Perl stringifies it; nil for undef (and for references).
    public var text: String?
    /// The value when it is an integer or a string of decimal digits (optionally signed).
    public var integer: Int64?
    /// The value in numeric context: strings by their leading number, undef as 0.
    public var number: Double
    /// Perl's truth: undef, "", "0", 0 and 0.0 are false.
    public var isTrue: Bool
    /// The value as messages show it (`ARRAY` for a reference, `\xNN` for bytes that are not UTF-8).
    public var printable: String

    public init(text: String?, integer: Int64?, number: Double, isTrue: Bool, printable: String? = nil) {
        self.text = text
        self.integer = integer
        self.number = number
        self.isTrue = isTrue
        self.printable = printable ?? text ?? ""
    }

    public static let undefined = Scalar(text: nil, integer: nil, number: 0, isTrue: false)

    public init(_ integer: Int64) {
        self.init(text: String(integer), integer: integer, number: Double(integer), isTrue: integer != 0)
    }

    /// A string as Perl reads it in numeric context: its leading number (" 2x" is 2, "abc" 0).
    public init(_ text: String) {
        self.init(text: text, integer: Int64(text), number: Scalar.leadingNumber(text),
                  isTrue: !(text.isEmpty || text == "0"))
    }

    public static func leadingNumber(_ text: String) -> Double {
        var bytes = Array(text.utf8)[...]
        while let first = bytes.first, first == 0x20 || (0x09...0x0D).contains(first) { bytes = bytes.dropFirst() }
        var end = bytes.startIndex
        if end < bytes.endIndex, bytes[end] == UInt8(ascii: "-") || bytes[end] == UInt8(ascii: "+") { end += 1 }
        var sawDigit = false, sawDot = false
        while end < bytes.endIndex {
            let byte = bytes[end]
            if (0x30...0x39).contains(byte) { sawDigit = true } else if byte == UInt8(ascii: "."), !sawDot { sawDot = true } else { break }
            end += 1
        }
        guard sawDigit else { return 0 }
        return Double(String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)) ?? 0
    }
}

extension SnapshotSelector: ExpressibleByStringLiteral {
    public init(stringLiteral name: String) { self.init(name) }
}

extension Scalar: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    public init(integerLiteral value: Int64) { self.init(value) }
    public init(stringLiteral text: String) { self.init(text) }
}
