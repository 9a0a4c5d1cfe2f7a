import PVEStorage

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
