import PVEStorage

/// Why an image file could not be read as the format it was asked for.
///
/// The messages are QEMU's own wording, because PVE's `dir` storage shows qemu-img's
/// message for the same files.
public enum ImageFormatError: Error, Hashable, CustomStringConvertible {
    /// The file is not of the requested format (named here) at all; listing then reports it
    /// `invalid`.
    case notInFormat(String)
    /// It claims the format but is damaged, hostile or uses what we do not read: qemu-img's reason.
    case unusable(String)

    public var description: String {
        switch self {
        case .notInFormat(let format): "Image is not in \(format) format"
        case .unusable(let reason): reason
        }
    }
}

/// What an image's header says: its size as the guest sees it and its backing file.
public struct ImageHeader: Equatable, Sendable {
    /// Virtual size in bytes.
    public var virtualSize: Int64
    /// The backing file exactly as recorded in the image (relative or absolute), if any.
    public var backingFile: String?
    /// The backing file's format as a qcow2 image records it (its backing format header
    /// extension), nil when absent, when the extension list is malformed, or for other
    /// formats. Without it QEMU probes the backing file; callers that must not trust
    /// what a guest could have written never probe: they hand the image to qemu-img.
    public var backingFormat: String?

    public init(virtualSize: Int64, backingFile: String? = nil, backingFormat: String? = nil) {
        self.virtualSize = virtualSize
        self.backingFile = backingFile
        self.backingFormat = backingFormat
    }
}

/// Bounded random access to an untrusted image file: every read is checked against
/// the file's length, so a header can never make us read outside the file.
public struct ImageFile {
    public let path: String
    public let length: Int64
    let system: any SystemCalls

    /// The file's first bytes as read before (``SystemCalls/probeFiles(_:)``): reads inside
    /// them are answered from memory, the others read the file.
    let head: [UInt8]

    public init(path: String, length: Int64, system: any SystemCalls, head: [UInt8] = []) {
        self.path = path
        self.length = length
        self.system = system
        self.head = head
    }

    /// Exactly `count` bytes at `offset`, or nil when they are not all inside the file.
    public func bytes(at offset: Int64, count: Int) throws(Errno) -> [UInt8]? {
        guard offset >= 0, count >= 0, offset <= length, Int64(count) <= length - offset else { return nil }
        if offset + Int64(count) <= Int64(head.count) { return Array(head[Int(offset)..<(Int(offset) + count)]) }
        let data = try system.readBytes(path, offset: offset, count: count)
        return data.count == count ? data : nil
    }
}

/// Little-endian and big-endian integers from a byte array, nil when out of range.
enum ByteFields {
    static func bigEndian(_ bytes: [UInt8], at offset: Int, width: Int) -> UInt64? {
        guard offset >= 0, width <= 8, offset <= bytes.count - width else { return nil }
        var value: UInt64 = 0
        for index in offset..<(offset + width) { value = value << 8 | UInt64(bytes[index]) }
        return value
    }

    static func littleEndian(_ bytes: [UInt8], at offset: Int, width: Int) -> UInt64? {
        guard offset >= 0, width <= 8, offset <= bytes.count - width else { return nil }
        var value: UInt64 = 0
        for index in (offset..<(offset + width)).reversed() { value = value << 8 | UInt64(bytes[index]) }
        return value
    }

    /// `count` sectors of 512 bytes as a byte count, nil when it does not fit an Int64.
    static func sectorsToBytes(_ count: UInt64) -> Int64? {
        guard count <= UInt64(Int64.max) / 512 else { return nil }
        return Int64(count) * 512
    }

    /// A string stored in an image: cut at the first NUL, as QEMU reads it; other
    /// bytes that are not UTF-8 are replaced.
    static func string(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
