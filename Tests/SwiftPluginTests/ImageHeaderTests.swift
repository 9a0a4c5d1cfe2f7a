import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

/// Writes `bytes` to a file in `directory` and inspects it as `format`.
private func inspect(_ bytes: [UInt8], as format: ImageFormat, in directory: MemoryDirectory, name: String = "image") throws -> ImageMetadata? {
    directory.write(name, bytes)
    return try ImageInspector(system: directory.system).inspect(directory.path + "/" + name, format: .image(format))
}

private func bigEndian(_ value: UInt64, width: Int) -> [UInt8] {
    (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}

private func littleEndian(_ value: UInt64, width: Int) -> [UInt8] {
    (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}

/// A qcow2 header with the given fields, padded to `length` bytes.
private func qcow2(version: UInt64 = 3, backingOffset: UInt64 = 0, backingLength: UInt64 = 0, clusterBits: UInt64 = 16,
                   size: UInt64 = 1 << 30, incompatible: UInt64 = 0, headerLength: UInt64 = 104, length: Int = 512,
                   backing: [UInt8] = []) -> [UInt8] {
    var bytes = QCOW2.magic + bigEndian(version, width: 4) + bigEndian(backingOffset, width: 8)
        + bigEndian(backingLength, width: 4) + bigEndian(clusterBits, width: 4) + bigEndian(size, width: 8)
    bytes += [UInt8](repeating: 0, count: 72 - bytes.count)
    bytes += bigEndian(incompatible, width: 8) + [UInt8](repeating: 0, count: 20) + bigEndian(headerLength, width: 4)
    bytes += [UInt8](repeating: 0, count: max(0, length - bytes.count))
    if !backing.isEmpty, backingOffset > 0, Int(backingOffset) + backing.count <= bytes.count {
        bytes.replaceSubrange(Int(backingOffset)..<(Int(backingOffset) + backing.count), with: backing)
    }
    return Array(bytes.prefix(length))
}

/// A hosted sparse VMDK header ("KDMV"), with an optional embedded descriptor at sector 1.
private func vmdk(version: UInt64 = 1, capacity: UInt64 = 204800, grain: UInt64 = 128, descriptorOffset: UInt64 = 0,
                  descriptorSectors: UInt64 = 0, descriptor: String = "", length: Int = 512) -> [UInt8] {
    var bytes = VMDK.sparseMagic + littleEndian(version, width: 4) + littleEndian(3, width: 4) + littleEndian(capacity, width: 8)
        + littleEndian(grain, width: 8) + littleEndian(descriptorOffset, width: 8) + littleEndian(descriptorSectors, width: 8)
    bytes += [UInt8](repeating: 0, count: 512 - bytes.count)
    if !descriptor.isEmpty { bytes += Array(descriptor.utf8) + [UInt8](repeating: 0, count: 512 - descriptor.utf8.count % 512) }
    bytes += [UInt8](repeating: 0, count: max(0, length - bytes.count))
    return Array(bytes.prefix(max(length, bytes.count)))
}

@Suite("qcow2 and vmdk headers read natively")
struct ImageHeaderTests {
    let directory = MemoryDirectory()

    @Test("well-formed qcow2: virtual size and backing file")
    func qcow2Header() throws {
        let image = try inspect(qcow2(backingOffset: 200, backingLength: 28, backing: Array("../9004/base-9004-disk-0.raw".utf8)),
                                as: .qcow2, in: directory)
        #expect(image?.virtualSize == 1 << 30)
        #expect(image?.format == .qcow2)
        #expect(image?.backingFile == "../9004/base-9004-disk-0.raw")
        #expect(try inspect(qcow2(version: 2, length: 72), as: .qcow2, in: directory)?.virtualSize == 1 << 30)
    }

    @Test("a file that is not qcow2 is reported in qemu-img's words")
    func notQcow2() throws {
        let path = directory.path + "/image"
        for bytes in [[], [0x51, 0x46, 0x49], Array("hello world".utf8), vmdk()] as [[UInt8]] {
            #expect(failure { try inspect(bytes, as: .qcow2, in: directory) } == "qemu-img: Could not open '\(path)': Image is not in qcow2 format")
        }
    }

    @Test("hostile qcow2 headers are errors, never traps or reads outside the file")
    func hostileQcow2() throws {
        let path = directory.path + "/image"
        let cases: [([UInt8], String)] = [
            (Array(qcow2().prefix(40)), "Could not read qcow2 header: Invalid argument"),
            (Array(qcow2(version: 3).prefix(80)), "Could not read qcow2 header: Invalid argument"),
            (qcow2(version: 1), "Unsupported qcow2 version 1"),
            (qcow2(version: 0xFFFF_FFFF), "Unsupported qcow2 version 4294967295"),
            (qcow2(clusterBits: 0), "Unsupported cluster size: 2^0"),
            (qcow2(clusterBits: 0xFFFF_FFFF), "Unsupported cluster size: 2^4294967295"),
            (qcow2(size: UInt64.max), "Image is too big"),
            (qcow2(incompatible: 1 << 40), "Unsupported qcow2 feature(s): 0x10000000000"),
            (qcow2(headerLength: 0), "qcow2 header exceeds cluster size"),
            (qcow2(headerLength: 0xFFFF_FFFF), "qcow2 header exceeds cluster size"),
            (qcow2(backingOffset: UInt64.max, backingLength: 10), "Invalid backing file offset"),
            (qcow2(backingOffset: 200, backingLength: 0xFFFF_FFFF), "Backing file name too long"),
            // The name must end within the first cluster (qemu-img 7.2 says so for this file too).
            (qcow2(backingOffset: 65530, backingLength: 10), "Backing file name too long"),
            (qcow2(backingOffset: 65537, backingLength: 0), "Invalid backing file offset"),
            // Issue 10: a v2 header with 512-byte clusters and a name of 513..1023 bytes trapped
            // on `cluster - length`; every combination is an error in QEMU's words.
            (qcow2(version: 2, backingOffset: 72, backingLength: 513, clusterBits: 9, length: 72), "Backing file name too long"),
            (qcow2(version: 2, backingOffset: 72, backingLength: 1023, clusterBits: 9, length: 72), "Backing file name too long"),
            (qcow2(version: 2, backingOffset: 1, backingLength: 600, clusterBits: 9, length: 72), "Backing file name too long"),
            (qcow2(version: 2, backingOffset: 512, backingLength: 1, clusterBits: 9, length: 72), "Backing file name too long"),
            (qcow2(version: 2, backingOffset: 513, backingLength: 1, clusterBits: 9, length: 72), "Invalid backing file offset"),
            (qcow2(version: 2, backingOffset: UInt64.max, backingLength: 1023, clusterBits: 9, length: 72), "Invalid backing file offset"),
            (qcow2(version: 2, backingOffset: 72, backingLength: 440, clusterBits: 9, length: 72), "Could not read backing file name: Invalid argument"),
            // Inside the first cluster but past the end of the file.
            (qcow2(backingOffset: 500, backingLength: 100), "Could not read backing file name: Invalid argument"),
        ]
        for (bytes, reason) in cases {
            #expect(failure { try inspect(bytes, as: .qcow2, in: directory) } == "qemu-img: Could not open '\(path)': \(reason)")
        }
    }

    /// Header extensions (type, data) as qcow2 lays them out: 4-byte type, 4-byte length,
    /// the data padded to 8 bytes; `length` overrides the recorded length.
    private func extensions(_ list: [(UInt64, [UInt8], UInt64?)]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (type, data, length) in list {
            let recorded: UInt64 = length ?? UInt64(data.count)
            let padding = [UInt8](repeating: 0, count: (8 - data.count % 8) % 8)
            bytes += bigEndian(type, width: 4)
            bytes += bigEndian(recorded, width: 4)
            bytes += data
            bytes += padding
        }
        return bytes
    }

    /// A qcow2 with `extensions` placed after the header and a backing name at 400.
    private func backed(version: UInt64 = 3, _ extensionBytes: [UInt8], backingOffset: UInt64 = 400) -> [UInt8] {
        var bytes = qcow2(version: version, backingOffset: backingOffset, backingLength: 8, length: 1024,
                          backing: Array("base.raw".utf8))
        let start = version == 2 ? 72 : 104
        bytes.replaceSubrange(start..<(start + extensionBytes.count), with: extensionBytes)
        return bytes
    }

    @Test("the backing format header extension, bounds-checked as QEMU reads it")
    func backingFormatExtension() throws {
        let format: UInt64 = 0xE279_2ACA
        let feature: UInt64 = 0x6803_F857
        func read(_ bytes: [UInt8]) throws -> ImageHeader {
            directory.write("ext", bytes)
            return try QCOW2.readHeader(ImageFile(path: directory.path + "/ext", length: Int64(bytes.count), system: directory.system))
        }
        // qemu-img create -F raw: the format after another extension; version 2 starts at 72.
        #expect(try read(backed(extensions([(feature, [UInt8](repeating: 7, count: 48), nil), (format, Array("raw".utf8), nil), (0, [], nil)]))).backingFormat == "raw")
        #expect(try read(backed(version: 2, extensions([(format, Array("qcow2".utf8), nil), (0, [], nil)]))).backingFormat == "qcow2")
        #expect(try read(backed(extensions([(format, Array("raw".utf8), nil), (0, [], nil)]))).backingFile == "base.raw")
        // None, or only after the end marker: absent.
        #expect(try read(backed(extensions([(0, [], nil)]))).backingFormat == nil)
        #expect(try read(backed(extensions([(0, [], nil), (format, Array("raw".utf8), nil)]))).backingFormat == nil)
        // The last one counts, as in QEMU; a NUL ends the name.
        #expect(try read(backed(extensions([(format, Array("raw".utf8), nil), (format, Array("qcow2".utf8), nil), (0, [], nil)]))).backingFormat == "qcow2")
        #expect(try read(backed(extensions([(format, Array("raw\0qcow2".utf8), nil), (0, [], nil)]))).backingFormat == "raw")
        // QEMU refuses these: no format is relied on (nil), and the header still reads.
        #expect(try read(backed(extensions([(format, Array("0123456789abcdef".utf8), nil), (0, [], nil)]))).backingFormat == nil)
        #expect(try read(backed(extensions([(format, Array("raw".utf8), 0xFFFF_FFFF)]))).backingFormat == nil)
        #expect(try read(backed(extensions([(feature, [], 0xFFFF_FFF8), (format, Array("raw".utf8), nil)]))).backingFormat == nil)
        // Extensions end where the backing name starts: one running into it is refused,
        // one placed after it is never seen.
        #expect(try read(backed(extensions([(format, Array("raw".utf8), 400)]))).backingFormat == nil)
        #expect(try read(backed(extensions([(format, Array("raw".utf8), nil)]), backingOffset: 108)).backingFormat == nil)
        var after = qcow2(backingOffset: 104, backingLength: 8, length: 1024, backing: Array("base.raw".utf8))
        after.replaceSubrange(112..<128, with: extensions([(format, Array("raw".utf8), nil)]))
        #expect(try read(after).backingFormat == nil)
        // No backing file: no format either.
        #expect(try read(qcow2()).backingFormat == nil)
    }

    @Test("a backing name stops at NUL; one with blanks is dropped with PVE's warning")
    func backingNames() throws {
        #expect(try inspect(qcow2(backingOffset: 200, backingLength: 10, backing: Array("base.raw\0x".utf8)), as: .qcow2, in: directory)?.backingFile == "base.raw")
        let inspector = ImageInspector(system: directory.system)
        let path = directory.path + "/blank"
        directory.write("blank", qcow2(backingOffset: 200, backingLength: 7, backing: Array("a b.raw".utf8)))
        #expect(try inspector.inspect(path, format: .image(.qcow2))?.backingFile == nil)
        #expect(inspector.diagnostics.warnings == ["strange parent name path 'a b.raw' found"])
    }

    @Test("vmdk: sparse header, embedded descriptor and its parent")
    func vmdkHeader() throws {
        let descriptor = "# Disk DescriptorFile\nversion=1\nparentFileNameHint=\"../100/base-100-disk-0.vmdk\"\ncreateType=\"monolithicSparse\"\n"
        let image = try inspect(vmdk(capacity: 2048, descriptorOffset: 1, descriptorSectors: 1, descriptor: descriptor), as: .vmdk, in: directory)
        #expect(image?.virtualSize == Int64(2048 * 512))
        #expect(image?.backingFile == "../100/base-100-disk-0.vmdk")
        let text = "# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\nRW 4096 FLAT \"x-flat.vmdk\" 0\nRW 2048 FLAT \"y-flat.vmdk\" 0\n"
        #expect(try inspect(Array(text.utf8), as: .vmdk, in: directory)?.virtualSize == Int64(6144 * 512))
    }

    @Test("hostile vmdk files are errors")
    func hostileVmdk() throws {
        let path = directory.path + "/image"
        let cases: [([UInt8], String)] = [
            ([], "File is too small, not a valid image"),
            ([0x4B, 0x44], "File is too small, not a valid image"),
            (Array(vmdk().prefix(100)), "Could not read vmdk header: Invalid argument"),
            (vmdk(version: 7), "Unsupported VMDK version 7"),
            (vmdk(grain: 0), "Invalid granularity, image may be corrupt"),
            (vmdk(grain: 3), "Invalid granularity, image may be corrupt"),
            (vmdk(capacity: UInt64.max), "Image is too big"),
            (vmdk(descriptorOffset: UInt64.max, descriptorSectors: 1), "Invalid descriptor offset or size"),
            (vmdk(descriptorOffset: 1, descriptorSectors: 1 << 40), "Invalid descriptor offset or size"),
            (vmdk(descriptorOffset: 100, descriptorSectors: 1), "Invalid descriptor offset or size"),
            (Array("just some text\n".utf8), "invalid VMDK image descriptor"),
            (Array("createType=\"bogus\"\n".utf8), "Unsupported image type 'bogus'"),
            (Array("createType=\"monolithicFlat\"\nRW 99999999999999999999 FLAT \"x\" 0\n".utf8), "Invalid extent line"),
            (Array("createType=\"monolithicFlat\"\nRW 18014398509481983 FLAT \"x\" 0\nRW 18014398509481983 FLAT \"y\" 0\n".utf8), "Invalid extent line"),
        ]
        for (bytes, reason) in cases {
            #expect(failure { try inspect(bytes, as: .vmdk, in: directory) } == "qemu-img: Could not open '\(path)': \(reason)")
        }
    }

    @Test("random headers behind valid magic never trap")
    func fuzz() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<600 {
            let magic = [QCOW2.magic, VMDK.sparseMagic, VMDK.cowdMagic][round % 3]
            let length = Int.random(in: 4...1200, using: &generator)
            var bytes = magic + (4..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Plausible versions and small offsets reach the deeper checks more often.
            if round % 2 == 0, bytes.count > 8 { bytes[4...7] = (round % 3 == 0 ? [0, 0, 0, 3] : [1, 0, 0, 0])[...] }
            let format: ImageFormat = round % 3 == 0 ? .qcow2 : .vmdk
            if let image = try? inspect(bytes, as: format, in: directory) {
                #expect((image.virtualSize ?? 0) >= 0)
            }
        }
    }

    @Test("backing names at every cluster size and boundary: errors or names, never traps")
    func backingBoundaries() throws {
        let lengths: [UInt64] = [0, 1, 72, 439, 440, 511, 512, 513, 600, 1023, 1024, 4096, 0xFFFF_FFFF]
        for version: UInt64 in [2, 3] {
            for clusterBits: UInt64 in 9...21 {
                let cluster = UInt64(1) << clusterBits
                for offset in [1, 72, 104, cluster - 1, cluster, cluster + 1, UInt64.max] {
                    for length in lengths {
                        let bytes = qcow2(version: version, backingOffset: offset, backingLength: length, clusterBits: clusterBits,
                                          headerLength: version == 3 ? 104 : 0, length: 1024)
                        let reason = failure { try inspect(bytes, as: .qcow2, in: directory) }
                        if offset > cluster {
                            #expect(reason?.hasSuffix(": Invalid backing file offset") == true)
                        } else if length > min(1023, cluster - offset) {
                            #expect(reason?.hasSuffix(": Backing file name too long") == true)
                        }
                    }
                }
            }
        }
    }

    @Test("raw: the size in whole sectors, as qemu-img reports it")
    func raw() throws {
        #expect(try inspect([UInt8](repeating: 1, count: 1000), as: .raw, in: directory)?.virtualSize == 1024)
        #expect(try inspect([], as: .raw, in: directory)?.virtualSize == 0)
        #expect(ImageInspector.rawSize(Int64.max) == Int64.max)
    }

    @Test("the same answers as qemu-img info for images qemu-img created", arguments: ["qcow2", "vmdk", "raw"])
    func matchesQemuImg(format: String) throws {
        let directory = TemporaryDirectory()
        let base = directory.path + "/base.\(format)"
        let overlay = directory.path + "/overlay.qcow2"
        #expect(run(["create", "-f", format, base, "65M"]) != nil)
        #expect(run(["create", "-f", "qcow2", "-F", format, "-b", "base.\(format)", overlay]) != nil)
        for path in [base, overlay] {
            let json = try #require(run(["info", "--output=json", path]))
            let info = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let format = try #require((info["format"] as? String).flatMap(ImageFormat.init(rawValue:)))
            let image = try #require(try ImageInspector(system: LiveSystem()).inspect(path, format: .image(format)))
            #expect(image.virtualSize == (info["virtual-size"] as? NSNumber)?.int64Value)
            #expect(image.backingFile == info["backing-filename"] as? String)
            #expect(image.allocatedSize == (info["actual-size"] as? NSNumber)?.int64Value)
        }
    }

    @Test("a directory is a subvol; a missing file a warning")
    func specialFiles() throws {
        let inspector = ImageInspector(system: directory.system)
        directory.create("sub", directory: true)
        #expect(try inspector.inspect(directory.path + "/sub", format: .image(.raw))?.format == .subvol)
        #expect(try inspector.inspect(directory.path + "/missing", format: .image(.raw)) == nil)
        #expect(inspector.diagnostics.warnings == [
            "expected format 'raw', but '\(directory.path)/sub' is a directory", "failed to stat '\(directory.path)/missing'",
        ])
    }
}

/// Runs qemu-img; its standard output, or nil when it failed.
func run(_ arguments: [String]) -> String? {
    let result = try? LiveSystem().run(Command(QemuImg.executable, arguments, timeout: 60))
    guard let result, result.succeeded else { return nil }
    return String(decoding: result.output, as: UTF8.self)
}
