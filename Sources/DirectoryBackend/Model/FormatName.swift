/// A format argument as the caller named it: one of `Format`, or any other name, which
/// dir still writes into file names and messages as it is (PVE passes on what it got).
public enum FormatName<Format: Equatable & Sendable & CustomStringConvertible>: Equatable, Sendable, CustomStringConvertible {
    case known(Format)
    /// A name that is none of `Format`'s.
    case other(String)

    /// The format, when the name is one.
    public var format: Format? {
        if case .known(let format) = self { return format }
        return nil
    }

    /// The name as written.
    public var description: String {
        switch self {
        case .known(let format): return format.description
        case .other(let name): return name
        }
    }
}

extension FormatName where Format == ImageFormat {
    /// A volume's format as an image format argument: its name when it is no image file's.
    public init(_ format: VolumeFormat) {
        self = format.imageFormat.map(FormatName.known) ?? .other(format.description)
    }
}

/// Text PVE reads from a file as UTF-8: characters when the bytes are valid UTF-8,
/// else the bytes as they are (notes of backups).
public enum DecodedText: Equatable, Sendable {
    case characters(String)
    case bytes([UInt8])

    public init(_ bytes: [UInt8]) {
        if let text = String(validating: bytes, as: UTF8.self) {
            self = .characters(text)
        } else {
            self = .bytes(bytes)
        }
    }
}
extension FormatName where Format: RawRepresentable, Format.RawValue == String {
    /// The format a method argument names, if any.
    public init(_ name: String) {
        self = Format(rawValue: name).map(FormatName.known) ?? .other(name)
    }
}

extension FormatName: Hashable where Format: Hashable {}
