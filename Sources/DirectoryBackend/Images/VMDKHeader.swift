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
            throw ImageFormatError.unusable("Could not read vmdk image: \(error)")
        }
    }

    private static func read(_ file: ImageFile) throws -> ImageHeader {
        guard file.length >= 4, let magic = try file.bytes(at: 0, count: 4) else {
            throw ImageFormatError.unusable("File is too small, not a valid image")
        }
        if magic == sparseMagic { return try sparse(file) }
        if magic == cowdMagic {
            guard let header = try file.bytes(at: 0, count: 16), let sectors = ByteFields.littleEndian(header, at: 12, width: 4),
                  let size = ByteFields.sectorsToBytes(sectors)
            else { throw ImageFormatError.unusable("Could not read vmdk header: Invalid argument") }
            return ImageHeader(virtualSize: size)
        }
        let count = Int(min(file.length, Int64(maximumDescriptor - 1)))
        guard let text = try file.bytes(at: 0, count: count) else { throw ImageFormatError.unusable("invalid VMDK image descriptor") }
        let descriptor = Descriptor(text)
        guard let createType = descriptor.value(of: "createType") else {
            throw ImageFormatError.unusable("invalid VMDK image descriptor")
        }
        guard createTypes.contains(createType) else { throw ImageFormatError.unusable("Unsupported image type '\(createType)'") }
        guard let size = descriptor.extentBytes(), size > 0 else { throw ImageFormatError.unusable("Invalid extent line") }
        return ImageHeader(virtualSize: size, backingFile: descriptor.value(of: "parentFileNameHint"))
    }

    private static func sparse(_ file: ImageFile) throws -> ImageHeader {
        let header = try SparseHeader(reading: file)
        let size = try header.virtualSize()
        return ImageHeader(virtualSize: size, backingFile: try header.descriptor(in: file)?.value(of: "parentFileNameHint"))
    }

    /// The header of an imported vmdk, which must be one self-contained sparse file: not a
    /// text descriptor (whose extents are other files), and an embedded descriptor names
    /// one extent, SPARSE. The header and the descriptor are read once for both.
    static func readSelfContainedHeader(_ file: ImageFile) throws(ImageFormatError) -> ImageHeader {
        let header: SparseHeader
        do {
            guard try file.bytes(at: 0, count: 4) == sparseMagic else {
                throw ImageFormatError.unusable("refusing a vmdk image that is not a single sparse file (its extents are other files)")
            }
            header = try SparseHeader(reading: file)
        } catch let error as ImageFormatError { throw error } catch {
            throw ImageFormatError.unusable("Could not read vmdk header: \(error)")
        }
        // QEMU reads a sparse file of capacity 0 as a descriptor file: its extents are other files.
        guard header.capacity != 0 else { throw ImageFormatError.unusable("refusing a vmdk image of capacity 0 (its descriptor would name the extents)") }
        let descriptor: Descriptor?
        do { descriptor = try header.descriptor(in: file) } catch let error as ImageFormatError { throw error } catch {
            throw ImageFormatError.unusable("Could not read vmdk descriptor: \(error)")
        }
        if let extents = descriptor?.extents {
            guard extents.count == 1 else { throw ImageFormatError.unusable("refusing a vmdk image with \(extents.count) extents") }
            guard extents[0].type == "SPARSE" else { throw ImageFormatError.unusable("refusing a vmdk image whose extent is not the file itself") }
        }
        return ImageHeader(virtualSize: try header.virtualSize(), backingFile: descriptor?.value(of: "parentFileNameHint"))
    }

    /// The hosted sparse extent header (VMware's SparseExtentHeader, little-endian), as
    /// recorded. I/O errors are thrown as they are, for the caller to word.
    struct SparseHeader {
        let version: UInt64
        let capacity: UInt64
        let grain: UInt64
        let descriptorOffset: UInt64
        let descriptorSectors: UInt64

        init(reading file: ImageFile) throws {
            guard let header = try file.bytes(at: 0, count: 512),
                  let version = ByteFields.littleEndian(header, at: 4, width: 4),
                  let capacity = ByteFields.littleEndian(header, at: 12, width: 8),
                  let grain = ByteFields.littleEndian(header, at: 20, width: 8),
                  let descriptorOffset = ByteFields.littleEndian(header, at: 28, width: 8),
                  let descriptorSectors = ByteFields.littleEndian(header, at: 36, width: 8)
            else { throw ImageFormatError.unusable("Could not read vmdk header: Invalid argument") }
            self.version = version
            self.capacity = capacity
            self.grain = grain
            self.descriptorOffset = descriptorOffset
            self.descriptorSectors = descriptorSectors
        }

        /// The capacity in bytes, once QEMU's checks of the version and the grain pass.
        func virtualSize() throws(ImageFormatError) -> Int64 {
            guard version <= 3 else { throw ImageFormatError.unusable("Unsupported VMDK version \(version)") }
            guard grain > 0, grain & (grain - 1) == 0, grain <= 1 << 19 else { throw ImageFormatError.unusable("Invalid granularity, image may be corrupt") }
            guard let size = ByteFields.sectorsToBytes(capacity) else { throw ImageFormatError.unusable("Image is too big") }
            return size
        }

        /// The embedded descriptor, nil when the header names none.
        func descriptor(in file: ImageFile) throws -> Descriptor? {
            guard descriptorOffset != 0, descriptorSectors != 0 else { return nil }
            guard let offset = ByteFields.sectorsToBytes(descriptorOffset), let length = ByteFields.sectorsToBytes(descriptorSectors),
                  length <= Int64(maximumDescriptor),
                  let text = try file.bytes(at: offset, count: Int(length))
            else { throw ImageFormatError.unusable("Invalid descriptor offset or size") }
            return Descriptor(text)
        }
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

        /// An extent line (`RW <sectors> <type> "<file>"`), past its access mode.
        struct Extent {
            let sectors: String
            let type: String
        }

        /// The extent lines, in order.
        var extents: [Extent] {
            lines.compactMap { line in
                let fields = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map { String(decoding: $0, as: UTF8.self) }
                guard fields.count >= 3, ["RW", "RDONLY", "NOACCESS"].contains(fields[0]) else { return nil }
                return Extent(sectors: fields[1], type: fields[2])
            }
        }

        /// The sum of the extents' sizes, nil on overflow.
        func extentBytes() -> Int64? {
            var total: Int64 = 0
            for extent in extents {
                guard let sectors = UInt64(extent.sectors), let bytes = ByteFields.sectorsToBytes(sectors) else { return nil }
                let (sum, overflow) = total.addingReportingOverflow(bytes)
                guard !overflow else { return nil }
                total = sum
            }
            return total
        }
    }
}
