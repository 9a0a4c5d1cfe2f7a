import PVEStorage

/// Why an image file could not be read as the format it was asked for.
///
/// The reasons are QEMU's own wording, because PVE's `dir` storage shows qemu-img's
/// message for the same files.
public struct ImageFormatError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    /// True when the file simply is not of the requested format (qemu-img's "Image is not in
    /// <fmt> format"; listing then reports `invalid`), false when it is a damaged one.
    public var isWrongFormat: Bool

    public init(_ reason: String, wrongFormat: Bool = false) {
        self.reason = reason
        self.isWrongFormat = wrongFormat
    }

    static func notIn(_ format: String) -> ImageFormatError {
        ImageFormatError("Image is not in \(format) format", wrongFormat: true)
    }

    public var description: String { reason }
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

/// The qcow2 header (QEMU's docs/interop/qcow2.txt): big-endian, version 2 or 3.
public enum QCOW2 {
    static let magic: [UInt8] = [0x51, 0x46, 0x49, 0xFB] // "QFI\xfb"
    /// QEMU refuses longer backing file names.
    static let maximumBackingFileLength: UInt64 = 1023
    /// Incompatible feature bits QEMU knows: dirty, corrupt, external data file,
    /// compression type, extended L2 entries.
    static let knownIncompatibleFeatures: UInt64 = 0b11111

    public static func readHeader(_ file: ImageFile) throws(ImageFormatError) -> ImageHeader {
        let header: [UInt8]
        do {
            guard let start = try file.bytes(at: 0, count: 4), start == magic else { throw ImageFormatError.notIn("qcow2") }
            // Version 2 headers are 72 bytes; version 3 adds fields up to 104.
            guard let fixed = try file.bytes(at: 0, count: 72) else { throw ImageFormatError("Could not read qcow2 header: Invalid argument") }
            header = fixed
        } catch let error as ImageFormatError {
            throw error
        } catch {
            throw ImageFormatError("Could not read qcow2 header: \(error)")
        }
        guard let version = ByteFields.bigEndian(header, at: 4, width: 4),
              let backingOffset = ByteFields.bigEndian(header, at: 8, width: 8),
              let backingLength = ByteFields.bigEndian(header, at: 16, width: 4),
              let clusterBits = ByteFields.bigEndian(header, at: 20, width: 4),
              let size = ByteFields.bigEndian(header, at: 24, width: 8)
        else { throw ImageFormatError("Could not read qcow2 header: Invalid argument") }

        guard version == 2 || version == 3 else { throw ImageFormatError("Unsupported qcow2 version \(version)") }
        guard (9...21).contains(clusterBits) else {
            throw ImageFormatError("Unsupported cluster size: 2^\(clusterBits)")
        }
        if version == 3 {
            let extended: [UInt8]?
            do { extended = try file.bytes(at: 72, count: 32) } catch {
                throw ImageFormatError("Could not read qcow2 header: \(error)")
            }
            guard let extended, let incompatible = ByteFields.bigEndian(extended, at: 0, width: 8),
                  let headerLength = ByteFields.bigEndian(extended, at: 28, width: 4)
            else { throw ImageFormatError("Could not read qcow2 header: Invalid argument") }
            guard headerLength >= 104, headerLength <= UInt64(1) << clusterBits else {
                throw ImageFormatError("qcow2 header exceeds cluster size")
            }
            guard incompatible & ~knownIncompatibleFeatures == 0 else {
                throw ImageFormatError("Unsupported qcow2 feature(s): 0x\(String(incompatible & ~knownIncompatibleFeatures, radix: 16))")
            }
        }
        guard size <= UInt64(Int64.max) else { throw ImageFormatError("Image is too big") }
        // Version 2 headers end at 72 bytes; version 3 records its length (checked above).
        var headerLength: UInt64 = 72
        if version == 3 {
            let bytes: [UInt8]?
            do { bytes = try file.bytes(at: 100, count: 4) } catch { throw ImageFormatError("Could not read qcow2 header: \(error)") }
            guard let bytes, let length = ByteFields.bigEndian(bytes, at: 0, width: 4) else {
                throw ImageFormatError("Could not read qcow2 header: Invalid argument")
            }
            headerLength = length
        }

        var backingFile: String?
        if backingOffset != 0 {
            // QEMU's checks, in its order: the name starts within the first cluster and
            // ends within it, and is at most 1023 bytes. Every operand is checked before
            // it is subtracted: the header is untrusted (an unchecked `cluster - length`
            // trapped on a 512-byte cluster with a longer name).
            let clusterSize = UInt64(1) << clusterBits
            guard backingOffset <= clusterSize else { throw ImageFormatError("Invalid backing file offset") }
            let (room, underflow) = clusterSize.subtractingReportingOverflow(backingOffset)
            guard !underflow, backingLength <= min(maximumBackingFileLength, room) else {
                throw ImageFormatError("Backing file name too long")
            }
            let name: [UInt8]?
            do { name = try file.bytes(at: Int64(backingOffset), count: Int(backingLength)) } catch {
                throw ImageFormatError("Could not read backing file name: \(error)")
            }
            guard let name else { throw ImageFormatError("Could not read backing file name: Invalid argument") }
            let text = ByteFields.string(name)
            backingFile = text.isEmpty ? nil : text
        }
        // As QEMU: the extensions end where the backing file name starts, else at the
        // end of the first cluster.
        let extensionsEnd = backingOffset != 0 ? backingOffset : UInt64(1) << clusterBits
        let format = backingFile == nil ? nil : backingFormat(file, from: headerLength, to: extensionsEnd)
        return ImageHeader(virtualSize: Int64(size), backingFile: backingFile, backingFormat: format)
    }

    /// The backing format header extension.
    static let backingFormatExtension: UInt64 = 0xE279_2ACA
    /// QEMU refuses a backing format name this long or longer.
    static let backingFormatLimit: UInt64 = 16

    /// The backing format named by the header extensions in `[start, end)` of the file
    /// (QEMU's docs/interop/qcow2.txt: a 4-byte type, a 4-byte length, the data padded to
    /// 8 bytes; type 0 ends the list). The last backing format extension counts, as in
    /// QEMU. Nil when there is none, or when the list is one QEMU refuses (an extension
    /// running past `end`, a name of 16 bytes or more) or cannot be read: the caller
    /// then must not rely on a format. Untrusted input: every sum is checked.
    static func backingFormat(_ file: ImageFile, from start: UInt64, to end: UInt64) -> String? {
        var offset = start
        var found: String?
        while offset < end {
            let (dataStart, overflow) = offset.addingReportingOverflow(8)
            guard !overflow, dataStart <= end, dataStart <= UInt64(Int64.max),
                  let raw = try? file.bytes(at: Int64(offset), count: 8),
                  let type = ByteFields.bigEndian(raw, at: 0, width: 4),
                  let length = ByteFields.bigEndian(raw, at: 4, width: 4)
            else { return nil }
            if type == 0 { break }
            guard length <= end - dataStart else { return nil } // "Header extension too large"
            if type == backingFormatExtension {
                guard length < backingFormatLimit,
                      let name = try? file.bytes(at: Int64(dataStart), count: Int(length)) else { return nil }
                let text = ByteFields.string(name)
                found = text.isEmpty ? nil : text
            }
            // length < 2^32: the padded length and the sum cannot overflow a UInt64.
            offset = dataStart + ((length + 7) & ~UInt64(7))
        }
        return found
    }
}

/// VMDK images: the hosted sparse extent ("KDMV", what `qemu-img create -f vmdk`
/// writes), the ESX sparse extent ("COWD") and text descriptor files.
public enum VMDK {
    static let sparseMagic: [UInt8] = [0x4B, 0x44, 0x4D, 0x56] // "KDMV"
    static let cowdMagic: [UInt8] = [0x43, 0x4F, 0x57, 0x44] // "COWD"
    /// QEMU reads at most this much of a descriptor.
    static let maximumDescriptor = 1 << 20
    static let createTypes: Set<String> = [
        "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat",
        "streamOptimized", "vmfs", "vmfsSparse", "vmfsRaw", "vmfsRDM", "vmfsPassthroughRawDeviceMap",
        "vmfsPreallocated", "vmfsEagerZeroedThick", "vmfsThin", "seSparse",
    ]

    public static func readHeader(_ file: ImageFile) throws(ImageFormatError) -> ImageHeader {
        do {
            return try read(file)
        } catch let error as ImageFormatError {
            throw error
        } catch {
            throw ImageFormatError("Could not read vmdk image: \(error)")
        }
    }

    private static func read(_ file: ImageFile) throws -> ImageHeader {
        guard file.length >= 4, let magic = try file.bytes(at: 0, count: 4) else {
            throw ImageFormatError("File is too small, not a valid image")
        }
        if magic == sparseMagic { return try sparse(file) }
        if magic == cowdMagic {
            guard let header = try file.bytes(at: 0, count: 16), let sectors = ByteFields.littleEndian(header, at: 12, width: 4),
                  let size = ByteFields.sectorsToBytes(sectors)
            else { throw ImageFormatError("Could not read vmdk header: Invalid argument") }
            return ImageHeader(virtualSize: size)
        }
        let count = Int(min(file.length, Int64(maximumDescriptor - 1)))
        guard let text = try file.bytes(at: 0, count: count) else { throw ImageFormatError("invalid VMDK image descriptor") }
        let descriptor = Descriptor(text)
        guard let createType = descriptor.value(of: "createType") else {
            throw ImageFormatError("invalid VMDK image descriptor")
        }
        guard createTypes.contains(createType) else { throw ImageFormatError("Unsupported image type '\(createType)'") }
        guard let size = descriptor.extentBytes(), size > 0 else { throw ImageFormatError("Invalid extent line") }
        return ImageHeader(virtualSize: size, backingFile: descriptor.value(of: "parentFileNameHint"))
    }

    /// The hosted sparse extent header (VMware's SparseExtentHeader, little-endian).
    private static func sparse(_ file: ImageFile) throws -> ImageHeader {
        guard let header = try file.bytes(at: 0, count: 512) else { throw ImageFormatError("Could not read vmdk header: Invalid argument") }
        guard let version = ByteFields.littleEndian(header, at: 4, width: 4),
              let capacity = ByteFields.littleEndian(header, at: 12, width: 8),
              let grain = ByteFields.littleEndian(header, at: 20, width: 8),
              let descriptorOffset = ByteFields.littleEndian(header, at: 28, width: 8),
              let descriptorSectors = ByteFields.littleEndian(header, at: 36, width: 8)
        else { throw ImageFormatError("Could not read vmdk header: Invalid argument") }
        guard version <= 3 else { throw ImageFormatError("Unsupported VMDK version \(version)") }
        guard grain > 0, grain & (grain - 1) == 0, grain <= 1 << 19 else { throw ImageFormatError("Invalid granularity, image may be corrupt") }
        guard let size = ByteFields.sectorsToBytes(capacity) else { throw ImageFormatError("Image is too big") }

        var backingFile: String?
        if descriptorOffset != 0, descriptorSectors != 0 {
            guard let offset = ByteFields.sectorsToBytes(descriptorOffset), let length = ByteFields.sectorsToBytes(descriptorSectors),
                  length <= Int64(maximumDescriptor),
                  let text = try file.bytes(at: offset, count: Int(length))
            else { throw ImageFormatError("Invalid descriptor offset or size") }
            backingFile = Descriptor(text).value(of: "parentFileNameHint")
        }
        return ImageHeader(virtualSize: size, backingFile: backingFile)
    }

    /// A VMDK text descriptor: `key="value"` lines and extent lines.
    struct Descriptor {
        let lines: [[UInt8]]

        init(_ bytes: [UInt8]) {
            lines = bytes.prefix { $0 != 0 }.split(whereSeparator: { $0 == 0x0A || $0 == 0x0D }).map(Array.init)
        }

        /// The quoted value of `key` (`key = "value"`), nil when absent or empty.
        func value(of key: String) -> String? {
            let name = Array(key.utf8)
            for line in lines {
                let trimmed = line.drop { $0 == 0x20 || $0 == 0x09 }
                guard trimmed.starts(with: name) else { continue }
                var rest = trimmed.dropFirst(name.count).drop { $0 == 0x20 || $0 == 0x09 }
                guard rest.first == UInt8(ascii: "=") else { continue }
                rest = rest.dropFirst().drop { $0 == 0x20 || $0 == 0x09 }
                guard rest.first == UInt8(ascii: "\"") else { continue }
                let value = rest.dropFirst().prefix { $0 != UInt8(ascii: "\"") }
                return value.isEmpty ? nil : ByteFields.string(Array(value))
            }
            return nil
        }

        /// The sum of the extents' sizes (`RW <sectors> <type> "<file>"`), nil on overflow.
        func extentBytes() -> Int64? {
            var total: Int64 = 0
            for line in lines {
                let fields = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map { String(decoding: $0, as: UTF8.self) }
                guard fields.count >= 3, ["RW", "RDONLY", "NOACCESS"].contains(fields[0]) else { continue }
                guard let sectors = UInt64(fields[1]), let bytes = ByteFields.sectorsToBytes(sectors) else { return nil }
                let (sum, overflow) = total.addingReportingOverflow(bytes)
                guard !overflow else { return nil }
                total = sum
            }
            return total
        }
    }
}
