/// One extent of a file: where `length` bytes at `logical` in the file live on the
/// device (`physical`), as the kernel's extent map (FS_IOC_FIEMAP) reports them.
public struct FileExtent: Equatable, Sendable {
    /// The flags of `struct fiemap_extent` the storage reads.
    public struct Flags: OptionSet, Equatable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public static let last = Flags(rawValue: 0x1)
        /// The location is not known (yet).
        public static let unknown = Flags(rawValue: 0x2)
        /// Delayed allocation: not on the device yet.
        public static let delayedAllocation = Flags(rawValue: 0x4)
        /// Compressed or otherwise encoded: `physical` is not where these bytes are.
        public static let encoded = Flags(rawValue: 0x8)
        public static let encrypted = Flags(rawValue: 0x80)
        public static let notAligned = Flags(rawValue: 0x100)
        /// Stored in the file system's metadata, not in a block of its own.
        public static let inline = Flags(rawValue: 0x200)
        public static let tail = Flags(rawValue: 0x400)
        /// Allocated but never written: reads as zeros.
        public static let unwritten = Flags(rawValue: 0x800)
        public static let merged = Flags(rawValue: 0x1000)
        /// Shared with another file (a reflink).
        public static let shared = Flags(rawValue: 0x2000)

        /// Flags under which `physical` does not name these bytes alone.
        public static let untrustedLocation: Flags = [.unknown, .delayedAllocation, .encoded, .encrypted, .notAligned, .inline, .tail]
    }

    public var logical: Int64
    public var physical: Int64
    public var length: Int64
    public var flags: Flags

    public init(logical: Int64, physical: Int64, length: Int64, flags: Flags = []) {
        self.logical = logical
        self.physical = physical
        self.length = length
        self.flags = flags
    }
}
