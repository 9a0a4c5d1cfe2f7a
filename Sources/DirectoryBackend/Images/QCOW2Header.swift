import PVEStorage

/// The qcow2 header (QEMU's docs/interop/qcow2.txt): big-endian, version 2 or 3.
public enum QCOW2 {
    static let magic: [UInt8] = [0x51, 0x46, 0x49, 0xFB] // "QFI\xfb"
    /// QEMU refuses longer backing file names.
    static let maximumBackingFileLength: UInt64 = 1023
    /// Incompatible feature bits QEMU knows: dirty, corrupt, external data file,
    /// compression type, extended L2 entries.
    static let knownIncompatibleFeatures: UInt64 = 0b11111

    /// The header as an ``ImageHeader``: its size and backing file.
    public static func readHeader(_ file: ImageFile) throws(ImageFormatError) -> ImageHeader {
        try Header(reading: file).image
    }

    /// The header fields, read and checked once (as QEMU opens the image); the cluster
    /// map and the snapshot table start from them and check what only they use.
    public struct Header: Equatable, Sendable {
        /// 2 or 3.
        public let version: UInt64
        /// 9...21.
        public let clusterBits: Int
        public let virtualSize: Int64
        /// crypt_method, as recorded.
        public let cryptMethod: UInt64
        /// The active L1 table, as recorded (unchecked).
        public let l1Size: UInt64
        public let l1Offset: UInt64
        /// The snapshot table, as recorded (unchecked).
        public let snapshotCount: UInt64
        public let snapshotsOffset: UInt64
        /// Version 3's incompatible feature bits (only known ones get here); 0 for version 2.
        public let incompatibleFeatures: UInt64
        public let backingFile: String?
        /// ``ImageHeader/backingFormat``.
        public let backingFormat: String?

        public var image: ImageHeader {
            ImageHeader(virtualSize: virtualSize, backingFile: backingFile, backingFormat: backingFormat)
        }

        public init(reading file: ImageFile) throws(ImageFormatError) {
            let header: [UInt8]
            do {
                guard let start = try file.bytes(at: 0, count: 4), start == magic else { throw ImageFormatError.notInFormat("qcow2") }
                // Version 2 headers are 72 bytes; version 3 adds fields up to 104.
                guard let fixed = try file.bytes(at: 0, count: 72) else { throw ImageFormatError.unusable("Could not read qcow2 header: Invalid argument") }
                header = fixed
            } catch let error as ImageFormatError {
                throw error
            } catch {
                throw ImageFormatError.unusable("Could not read qcow2 header: \(error)")
            }
            guard let version = ByteFields.bigEndian(header, at: 4, width: 4),
                  let backingOffset = ByteFields.bigEndian(header, at: 8, width: 8),
                  let backingLength = ByteFields.bigEndian(header, at: 16, width: 4),
                  let clusterBits = ByteFields.bigEndian(header, at: 20, width: 4),
                  let size = ByteFields.bigEndian(header, at: 24, width: 8),
                  let cryptMethod = ByteFields.bigEndian(header, at: 32, width: 4),
                  let l1Size = ByteFields.bigEndian(header, at: 36, width: 4),
                  let l1Offset = ByteFields.bigEndian(header, at: 40, width: 8),
                  let snapshotCount = ByteFields.bigEndian(header, at: 60, width: 4),
                  let snapshotsOffset = ByteFields.bigEndian(header, at: 64, width: 8)
            else { throw ImageFormatError.unusable("Could not read qcow2 header: Invalid argument") }

            guard version == 2 || version == 3 else { throw ImageFormatError.unusable("Unsupported qcow2 version \(version)") }
            guard (9...21).contains(clusterBits) else {
                throw ImageFormatError.unusable("Unsupported cluster size: 2^\(clusterBits)")
            }
            // Version 2 headers end at 72 bytes; version 3 records its length.
            var headerLength: UInt64 = 72
            var incompatible: UInt64 = 0
            if version == 3 {
                let extended: [UInt8]?
                do { extended = try file.bytes(at: 72, count: 32) } catch {
                    throw ImageFormatError.unusable("Could not read qcow2 header: \(error)")
                }
                guard let extended, let features = ByteFields.bigEndian(extended, at: 0, width: 8),
                      let length = ByteFields.bigEndian(extended, at: 28, width: 4)
                else { throw ImageFormatError.unusable("Could not read qcow2 header: Invalid argument") }
                guard length >= 104, length <= UInt64(1) << clusterBits else {
                    throw ImageFormatError.unusable("qcow2 header exceeds cluster size")
                }
                guard features & ~knownIncompatibleFeatures == 0 else {
                    throw ImageFormatError.unusable("Unsupported qcow2 feature(s): 0x\(String(features & ~knownIncompatibleFeatures, radix: 16))")
                }
                headerLength = length
                incompatible = features
            }
            guard size <= UInt64(Int64.max) else { throw ImageFormatError.unusable("Image is too big") }

            var backingFile: String?
            if backingOffset != 0 {
                // QEMU's checks, in its order: the name starts within the first cluster and
                // ends within it, and is at most 1023 bytes. Every operand is checked before
                // it is subtracted: the header is untrusted (an unchecked `cluster - length`
                // trapped on a 512-byte cluster with a longer name).
                let clusterSize = UInt64(1) << clusterBits
                guard backingOffset <= clusterSize else { throw ImageFormatError.unusable("Invalid backing file offset") }
                let (room, underflow) = clusterSize.subtractingReportingOverflow(backingOffset)
                guard !underflow, backingLength <= min(maximumBackingFileLength, room) else {
                    throw ImageFormatError.unusable("Backing file name too long")
                }
                let name: [UInt8]?
                do { name = try file.bytes(at: Int64(backingOffset), count: Int(backingLength)) } catch {
                    throw ImageFormatError.unusable("Could not read backing file name: \(error)")
                }
                guard let name else { throw ImageFormatError.unusable("Could not read backing file name: Invalid argument") }
                let text = ByteFields.string(name)
                backingFile = text.isEmpty ? nil : text
            }
            // As QEMU: the extensions end where the backing file name starts, else at the
            // end of the first cluster.
            let extensionsEnd = backingOffset != 0 ? backingOffset : UInt64(1) << clusterBits
            self.version = version
            self.clusterBits = Int(clusterBits)
            self.virtualSize = Int64(size)
            self.cryptMethod = cryptMethod
            self.l1Size = l1Size
            self.l1Offset = l1Offset
            self.snapshotCount = snapshotCount
            self.snapshotsOffset = snapshotsOffset
            self.incompatibleFeatures = incompatible
            self.backingFile = backingFile
            self.backingFormat = backingFile == nil ? nil : QCOW2.backingFormat(file, from: headerLength, to: extensionsEnd)
        }
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
