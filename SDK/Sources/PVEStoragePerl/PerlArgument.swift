import CPVEStorageSDK
import PVEStorage

/// The conversions from Perl values to the typed arguments of the plugin methods,
/// used by the generated decoders (a plugin's Arguments.swift). Each follows what PVE's Perl
/// makes of the value, and refuses what no caller passes with a message naming the
/// argument.
public enum PerlArgument {
    /// A byte string as Perl reads it: undef is the empty string. Bytes that are not
    /// UTF-8 are refused: no volume or path of this storage has them.
    @inlinable
    public static func string(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> String {
        switch value {
        case .undef:
            return ""
        case .string(let text):
            return text
        case .text(let text):
            call.noteCharacterArgument(name)
            return text
        case .bytes:
            throw StorageError(ArgumentFailure.notUTF8(argument: name, shown: value.printable))
        case .int, .double:
            return value.string ?? ""
        case .array, .hash:
            throw StorageError(ArgumentFailure.notString(argument: name))
        }
    }

    /// ``string(_:_:_:)-(Value,_,_)`` read in place: a plain byte string, the usual
    /// argument, becomes a String without a ``Value`` on the way.
    @inlinable
    public static func string(_ value: PerlValue, _ name: String, _ call: Call) throws(StorageError) -> String {
        if value.kind == SPVE_KIND_BYTES, let text = PerlText.string(value.bytes) { return text }
        return try string(try value.value(), name, call)
    }

    /// The name of one of a fixed set of things (a feature, an attribute, a content type):
    /// a value that is no string names none of them, as `dir`'s hash lookups find nothing.
    @inlinable
    public static func selector(_ value: Value, _ name: String, _ call: Call) -> String {
        value.string ?? ""
    }

    /// ``selector(_:_:_:)-(Value,_,_)`` read in place.
    @inlinable
    public static func selector(_ value: PerlValue, _ name: String, _ call: Call) -> String {
        value.string ?? ""
    }

    /// A string, or nil when undef.
    @inlinable
    public static func optionalString(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> String? {
        value.isDefined ? try string(value, name, call) : nil
    }

    /// A string, or nil when false in Perl's sense (undef, "" or "0"): names that
    /// `dir` tests with `if ($name)`.
    @inlinable
    public static func nameIfTrue(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> String? {
        value.isTrue ? try string(value, name, call) : nil
    }

    @inlinable
    public static func bool(_ value: Value, _ name: String, _ call: Call) -> Bool {
        value.isTrue
    }

    /// An array of strings (elements that are not strings are left out); nil when undef.
    @inlinable
    public static func optionalStrings(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> [String]? {
        guard value.isDefined else { return nil }
        guard let elements = value.array else { throw StorageError(ArgumentFailure.notArray(argument: name)) }
        return elements.compactMap(\.string)
    }

    /// An array of strings; empty when undef or not an array.
    @inlinable
    public static func strings(_ value: Value, _ name: String, _ call: Call) -> [String] {
        (value.array ?? []).compactMap(\.string)
    }

    /// `$snapname`: undef is no snapshot; a reference still asks for one, as `defined` says.
    /// A name that is not UTF-8 is refused: no snapshot file has one.
    @inlinable
    public static func snapshot(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> SnapshotSelector {
        switch value {
        case .undef: return .none
        case .bytes: throw StorageError(ArgumentFailure.notUTF8(argument: name, shown: value.printable))
        case .array, .hash: return .named(value.printable)
        default: return SnapshotSelector(value.string)
        }
    }

    @inlinable
    public static func scalar(_ value: Value, _ name: String, _ call: Call) -> Scalar {
        Scalar(perl: value)
    }

    @inlinable
    public static func value(_ value: Value, _ name: String, _ call: Call) -> Value {
        value
    }

    /// The plugin's configuration, as its ``PluginConfiguration/decode(from:)`` reads it.
    @inlinable
    public static func configuration<Configuration: PluginConfiguration>(
        _ value: PerlValue, _ name: String, _ call: Call
    ) throws(StorageError) -> Configuration {
        try Configuration.decode(from: value)
    }

    /// A file descriptor the glue took from a Perl file handle (-1 for anything else).
    @inlinable
    public static func fileDescriptor(_ value: Value, _ name: String, _ call: Call) throws(StorageError) -> Int32 {
        guard let number = value.int, let descriptor = Int32(exactly: number), descriptor >= 0 else {
            throw StorageError(ArgumentFailure.notFileHandle(argument: name))
        }
        return descriptor
    }
}

extension Scalar {
    /// A Perl scalar's string, integer, numeric value and truth; references have no text.
    public init(perl value: Value) {
        let number: Double
        switch value {
        case .int(let integer): number = Double(integer)
        case .double(let double): number = double
        case .string(let text), .text(let text): number = Scalar.leadingNumber(text)
        default: number = 0
        }
        self.init(text: value.string, integer: value.int, number: number, isTrue: value.isTrue, printable: value.printable)
    }
}

/// A plugin's storage configuration (`$scfg`), as its methods read it.
public protocol PluginConfiguration {
    /// From PVE's `$scfg` hash (undef when the argument is missing); refuses what is no
    /// configuration, as PVE's own code would fail on it.
    init(perl value: Value) throws(StorageError)
    /// Reads the argument in place: a plugin may read only the keys it needs.
    static func decode(from value: PerlValue) throws(StorageError) -> Self
}

extension PluginConfiguration {
    /// Reads the whole value, then ``init(perl:)``.
    @inlinable
    public static func decode(from value: PerlValue) throws(StorageError) -> Self {
        try Self(perl: try value.value())
    }
}
