import PVEStorage

/// What a vzdump archive name says about the backup (PVE's `archive_info`,
/// PVE::Storage's `archive_info`): guest type, container format, compression and, for the
/// standard name `vzdump-<type>-<vmid>-<YYYY_MM_DD-hh_mm_ss>.<ext>`, the guest,
/// the time of the backup and the names of its companion files.
public struct ArchiveInfo: Equatable, Sendable {
    /// The archive's file name (the input's last path component).
    public var filename: String
    /// `qemu`, `lxc` or `openvz`.
    public var type: String
    /// `tar` or `vma`.
    public var format: String
    /// `gz`, `lzo`, `zst`, `bz2`, or nil for an uncompressed archive.
    public var compression: String?
    /// The archive extension as written (`vma.zst`, `tgz`, ...).
    public var fileExtension: String
    /// Set only for standard names.
    public var standard: StandardName?

    /// The parts of a standard vzdump name.
    public struct StandardName: Equatable, Sendable {
        public var vmid: Int64
        /// The name's timestamp as local time, in seconds since the epoch.
        public var ctime: Int64
        /// The archive's file name, and the bytes of it before the extension.
        var filename: String
        var stemLength: Int

        /// `vzdump-<type>-<vmid>-<stamp>.log` (built when asked: listings never do).
        public var logFilename: String { String(decoding: filename.utf8.prefix(stemLength), as: UTF8.self) + ".log" }
        /// `<filename>.notes`
        public var notesFilename: String { filename + ".notes" }
    }

    /// The command prefix that decompresses the archive, nil when uncompressed.
    public var decompressor: [String]? { compression.flatMap { Self.decompressors[format]?[$0] } }

    public static let guestTypes = ["lxc", "openvz", "qemu"]
    /// `vzdump-<type>-` of each guest type, as bytes (names are matched per listed file).
    static let typePrefixes: [(type: String, prefix: [UInt8])] = guestTypes.map { ($0, Array("vzdump-\($0)-".utf8)) }
    static let stampShape = Array("-DDDD_DD_DD-DD_DD_DD".utf8)
}

extension ArchiveInfo {

    /// Parses an archive path, volume name or file name; only the last path component counts.
    /// Fails with PVE's message (quoting the whole input) when it is not a vzdump archive name.
    /// `system` gives the time zone the name's timestamp is read in.
    public init(_ archive: String, in system: any SystemCalls) throws(StorageError) {
        guard let info = try ArchiveInfo.parse(archive, in: system) else {
            throw StorageError(ArchiveInfoFailure.unrecognized(archive: archive))
        }
        self = info
    }

    /// The archive info, or nil when the name is not a vzdump archive name (the
    /// listing and pruning treat such names as "unknown", as PVE's `eval` does).
    /// Throws only for a standard name whose timestamp is not a valid date.
    public static func parse(_ archive: String, in system: any SystemCalls) throws(StorageError) -> ArchiveInfo? {
        try parse(fileName: Array(FilePath.name(of: archive).utf8), in: system)
    }

    /// ``parse(_:in:)`` of a file name's bytes (a listing has them).
    static func parse(fileName: [UInt8], in system: any SystemCalls) throws(StorageError) -> ArchiveInfo? {
        var bytes = fileName
        // Perl's `$` also matches before a final newline; no other newline can match.
        if bytes.last == NameBytes.newline { bytes.removeLast() }
        guard !bytes.contains(NameBytes.newline),
              let (type, prefix) = typePrefixes.first(where: { bytes.starts(with: $0.prefix) }),
              let matched = ArchiveNames.backupExtension(of: bytes),
              bytes.count - matched.suffix.count > prefix.count
        else { return nil }

        let filename = String(decoding: bytes, as: UTF8.self)
        var info = ArchiveInfo(filename: filename, type: type, format: matched.format, compression: matched.compression,
                               fileExtension: matched.name, standard: nil)
        info.standard = try standardName(bytes, filename: filename, prefixLength: prefix.count, extensionLength: matched.suffix.count,
                                         in: system)
        return info
    }

    static let decompressors: [String: [String: [String]]] = [
        "tar": ["gz": ["tar", "-z"], "lzo": ["tar", "--lzop"], "zst": ["tar", "--zstd"], "bz2": ["tar", "--bzip2"]],
        "vma": ["gz": ["zcat"], "lzo": ["lzop", "-d", "-c"], "zst": ["zstd", "-q", "-d", "-c"], "bz2": ["bzcat", "-q"]],
    ]

    /// `vzdump-<type>-<VMID>-YYYY_MM_DD-hh_mm_ss` directly followed by the extension.
    private static func standardName(_ bytes: [UInt8], filename: String, prefixLength: Int, extensionLength: Int,
                                     in system: any SystemCalls)
        throws(StorageError) -> StandardName?
    {
        let stem = Array(bytes[prefixLength..<(bytes.count - extensionLength)])
        // <vmid>-YYYY_MM_DD-hh_mm_ss: the stamp is the last 20 bytes.
        guard stem.count >= 3 + 20 else { return nil }
        let vmidBytes = stem[..<(stem.count - 20)]
        let stamp = Array(stem[(stem.count - 20)...])
        guard (3...9).contains(vmidBytes.count), PerlString.isDigits(vmidBytes), vmidBytes.first != UInt8(ascii: "0"),
              stamp[0] == UInt8(ascii: "-") else { return nil }
        for (byte, expected) in zip(stamp, stampShape) {
            if expected == UInt8(ascii: "D") {
                guard (0x30...0x39).contains(byte) else { return nil }
            } else if byte != expected {
                return nil
            }
        }
        func number(_ range: Range<Int>) -> Int {
            stamp[range].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        let time = LocalTime(year: timeLocalYear(number(1..<5), in: system), month: number(6..<8), day: number(9..<11),
                             hour: number(12..<14), minute: number(15..<17), second: number(18..<20))
        let vmid = vmidBytes.reduce(Int64(0)) { $0 * 10 + Int64($1 - 0x30) }
        return StandardName(vmid: vmid, ctime: try time.epoch(in: system), filename: filename, stemLength: bytes.count - extensionLength)
    }

    /// Time::Local's reading of a year: 4-digit years as written, 100-999 as years
    /// since 1900, 0-99 within 50 years of the current year.
    static func timeLocalYear(_ year: Int, in system: any SystemCalls) -> Int {
        if year >= 1000 { return year }
        if year >= 100 { return year + 1900 }
        let thisYear = system.localTime(at: system.currentTime())?.year ?? 2000
        let breakpoint = (thisYear + 50) % 100
        var nextCentury = thisYear - thisYear % 100
        if breakpoint < 50 { nextCentury += 100 }
        return year + (year > breakpoint ? nextCentury - 100 : nextCentury)
    }
}
