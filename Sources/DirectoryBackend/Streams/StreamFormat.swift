/// The migration stream formats of `volume_export` / `volume_import` (PVE::Storage::Plugin's `volume_export`):
/// an 8-byte little-endian size header, then the payload.
public enum StreamFormat: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Raw disk bytes; the header is the virtual size.
    case raw = "raw+size"
    /// The qcow2 file as it is (internal snapshots included); the header is the virtual size.
    case qcow2 = "qcow2+size"
    /// The vmdk file as it is; the header is the virtual size.
    case vmdk = "vmdk+size"
    /// A GNU tar of a container directory's contents; the header is 0.
    case tar = "tar+size"

    /// The format of the image the payload is: `raw`, `qcow2`, `vmdk`, or a subvol for tar.
    public var dataFormat: ImageFormat {
        switch self {
        case .raw: return .raw
        case .qcow2: return .qcow2
        case .vmdk: return .vmdk
        case .tar: return .subvol
        }
    }

    /// Whether the format carries snapshots (qcow2 and vmdk files are sent whole).
    public var carriesSnapshots: Bool { self == .qcow2 || self == .vmdk }

    /// PVE's name (`raw+size`, ...).
    public var description: String { rawValue }
}

/// The size header every stream starts with.
public enum StreamHeader {
    public static let length = 8

    /// `value` as 8 little-endian bytes (Perl's `pack('Q<')`).
    public static func encode(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }

    /// The value of a header; nil unless exactly 8 bytes arrived (PVE's
    /// `import: no size found in export header, aborting.`).
    public static func decode(_ bytes: [UInt8]) -> UInt64? {
        guard bytes.count == length else { return nil }
        var value: UInt64 = 0
        for byte in bytes.reversed() { value = value << 8 | UInt64(byte) }
        return value
    }

    /// The size in KiB, rounded up to whole KiB as PVE's `align_size_up` does, and the
    /// line PVE prints when it had to round (nil when the size was aligned).
    public static func kibibytes(_ size: UInt64) -> (kib: UInt64, notice: String?) {
        let (whole, remainder) = size.quotientAndRemainder(dividingBy: 1024)
        guard remainder != 0 else { return (whole, nil) }
        let aligned = (whole + 1).multipliedReportingOverflow(by: 1024)
        // A size within 1 KiB of 2^64 cannot be rounded up in 64 bits; Perl would print a float.
        let shown = aligned.overflow ? "\(Double(size) + Double(1024 - remainder))" : "\(aligned.partialValue)"
        return (whole + 1, "size \(size) is not aligned to granularity 1024, rounding up to \(shown)")
    }
}

/// The formats matrix of `volume_export_formats` / `volume_import_formats` (§7.2, §7.3).
public enum StreamFormats {
    /// What a volume of `vtype` and `format` can be sent or received as on `host`'s
    /// release: PVE 8's dir offers `raw+size` for every other volume, PVE 9's only for
    /// images and files.
    public static func formats(vtype: ContentType, format: VolumeFormat, withSnapshots: Bool, host: HostRelease) -> [StreamFormat] {
        if withSnapshots {
            if format == .image(.qcow2) { return [.qcow2] }
            if format == .image(.vmdk) { return [.vmdk] }
            return []
        }
        if format == .image(.subvol) { return [.tar] }
        if host == .pve8 { return [.raw] }
        switch vtype {
        case .images, .iso, .snippets, .vztmpl, .import: return [.raw]
        default: return []
        }
    }
}
