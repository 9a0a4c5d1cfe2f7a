import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

/// The stream logic of volume_export / volume_import (Streams/, Images/QCOW2Clusters.swift).
@Suite struct StreamTests {
    @Test func headerIsEightLittleEndianBytes() {
        #expect(StreamHeader.encode(0x0102_0304_0506_0708) == [8, 7, 6, 5, 4, 3, 2, 1])
        #expect(StreamHeader.decode([8, 7, 6, 5, 4, 3, 2, 1]) == 0x0102_0304_0506_0708)
        #expect(StreamHeader.decode([1, 2, 3]) == nil)
        #expect(StreamHeader.decode([]) == nil)
        #expect(StreamHeader.decode(StreamHeader.encode(UInt64.max)) == UInt64.max)
    }

    @Test func sizesRoundUpToKiBWithPVEsNotice() {
        #expect(StreamHeader.kibibytes(4096) == (4, nil))
        let (kib, notice) = StreamHeader.kibibytes(1000)
        #expect(kib == 1)
        #expect(notice == "size 1000 is not aligned to granularity 1024, rounding up to 1024")
        #expect(StreamHeader.kibibytes(0) == (0, nil))
        #expect(StreamHeader.kibibytes(UInt64.max).kib == UInt64.max / 1024 + 1)
    }

    @Test func formatsMatrixIsDirs() {
        #expect(StreamFormats.formats(vtype: .images, format: .image(.raw), withSnapshots: false, host: .pve9) == [.raw])
        #expect(StreamFormats.formats(vtype: .images, format: .image(.raw), withSnapshots: true, host: .pve9) == [])
        #expect(StreamFormats.formats(vtype: .images, format: .image(.qcow2), withSnapshots: true, host: .pve9) == [.qcow2])
        #expect(StreamFormats.formats(vtype: .images, format: .image(.vmdk), withSnapshots: true, host: .pve9) == [.vmdk])
        #expect(StreamFormats.formats(vtype: .images, format: .image(.subvol), withSnapshots: false, host: .pve9) == [.tar])
        #expect(StreamFormats.formats(vtype: .import, format: .image(.qcow2), withSnapshots: true, host: .pve9) == [.qcow2])
        #expect(StreamFormats.formats(vtype: .iso, format: .image(.raw), withSnapshots: false, host: .pve9) == [.raw])
        #expect(StreamFormats.formats(vtype: .backup, format: .image(.raw), withSnapshots: false, host: .pve9) == [])
        // PVE 8's dir: raw+size for every volume but a subvol, also backups and rootdir/<vmid>.
        #expect(StreamFormats.formats(vtype: .backup, format: .image(.raw), withSnapshots: false, host: .pve8) == [.raw])
        #expect(StreamFormats.formats(vtype: .rootdir, format: .none, withSnapshots: false, host: .pve8) == [.raw])
        #expect(StreamFormats.formats(vtype: .rootdir, format: .none, withSnapshots: true, host: .pve8) == [])
        #expect(StreamFormats.formats(vtype: .images, format: .image(.subvol), withSnapshots: false, host: .pve8) == [.tar])
        #expect(StreamFormat.tar.dataFormat == .subvol && StreamFormat.qcow2.dataFormat == .qcow2)
        #expect(StreamFormat(rawValue: "zfs") == nil)
    }

    @Test func zeroDetection() {
        var bytes = [UInt8](repeating: 0, count: 4099)
        #expect(bytes.withUnsafeBytes { isAllZero($0) })
        bytes[4098] = 1
        #expect(!bytes.withUnsafeBytes { isAllZero($0) })
        bytes[4098] = 0
        bytes[7] = 1
        #expect(!bytes.withUnsafeBytes { isAllZero($0) })
    }

    /// Runs covering a qcow2 made by qemu-img: data, zero and unallocated clusters, in order.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-io")))
    func clusterRunsOfARealImage() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/image.qcow2"
        for arguments in [["/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", path, "1M"],
                          ["/usr/bin/qemu-io", "-c", "write -P 1 0 64k", "-c", "write -z 128k 64k", path]] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
        let size = try #require(try? LiveSystem().status(path, followSymlinks: true).size)
        let map = try QCOW2ClusterMap(file: ImageFile(path: path, length: size, system: LiveSystem()))
        #expect(map.layout.virtualSize == 1 << 20)
        let runs = try map.runs(from: 0, count: 1 << 20)
        #expect(runs.count == 4)
        guard case .data(0, _, 65536) = runs[0] else { Issue.record("first run \(runs[0])"); return }
        #expect(runs[1] == .unallocated(start: 65536, length: 65536))
        #expect(runs[2] == .zero(start: 131072, length: 65536))
        #expect(runs[3] == .unallocated(start: 196608, length: (1 << 20) - 196608))
        #expect(try map.hasCompressedClusters() == false)
        // A window in the middle is clipped to it.
        #expect(try map.runs(from: 100_000, count: 50_000) == [.unallocated(start: 100_000, length: 31_072), .zero(start: 131_072, length: 18_928)])
    }

    /// A hostile L1 table (past the end of the file) is refused, never trusted.
    @Test func hostileL1IsRefused() throws {
        var header = [UInt8](repeating: 0, count: 512)
        header.replaceSubrange(0..<4, with: [0x51, 0x46, 0x49, 0xFB])
        header[7] = 2 // version 2
        header[23] = 16 // cluster bits
        header[29] = 0x10 // virtual size 1 MiB (bytes 24..31 big-endian: 0x100000)
        header[39] = 1 // one L1 entry
        header[41] = 0x7F // L1 offset far beyond the file
        let directory = MemoryDirectory()
        let path = directory.path + "/hostile.qcow2"
        directory.write("hostile.qcow2", header)
        #expect(throws: ImageFormatError.self) {
            try QCOW2ClusterMap(file: ImageFile(path: path, length: Int64(header.count), system: directory.system))
        }
    }

    /// The JSON reader behind the import's `qemu-img info` check: qemu-img's output read,
    /// escapes decoded, anything malformed nil (never a trap).
    @Test func qemuImgInfoJSON() throws {
        let vmdk = """
            {"virtual-size": 2097152, "filename": "/s/images/1/.tmp-x", "format": "vmdk",
             "format-specific": {"type": "vmdk", "data": {"cid": 42, "extents": [
               {"virtual-size": 2097152, "filename": "/s/images/1/.tmp-x", "format": ""},
               {"filename": "/other/\\u00e9\\ud83d\\ude00\\"q\\n"}]}}, "dirty-flag": false}
            """
        let info = try #require(QemuImageInfo(json: Array(vmdk.utf8)))
        #expect(info.virtualSize == 2097152)
        #expect(info.format == "vmdk")
        #expect(info.backingFile == nil && info.dataFile == nil)
        #expect(info.extents == ["/s/images/1/.tmp-x", "/other/\u{e9}\u{1F600}\"q\n"])
        let backed = #"{"virtual-size": 1, "filename": "a", "format": "qcow2", "backing-filename": "/etc/x", "format-specific": {"data": {"data-file": "d"}}}"#
        #expect(QemuImageInfo(json: Array(backed.utf8))?.backingFile == "/etc/x")
        #expect(QemuImageInfo(json: Array(backed.utf8))?.dataFile == "d")
        #expect(QemuImageInfo(json: Array(backed.utf8))?.extents == nil)
        for bad in ["", "{", "[]", #"{"filename": "a", "format": "vmdk"}"#,
                    #"{"virtual-size": 1, "filename": "a", "format": "vmdk"} x"#,
                    #"{"virtual-size": 1, "filename": "a\ud800", "format": "vmdk"}"#,
                    #"{"virtual-size": 1, "filename": "a\udc00", "format": "vmdk"}"#,
                    #"{"virtual-size": 1, "filename": "a\u12", "format": "vmdk"}"#,
                    #"{"virtual-size": 99999999999999999999, "filename": "a", "format": "vmdk"}"#,
                    #"{"virtual-size": 1, "filename": "a", "format": "vmdk", "backing-filename": 3}"#,
                    #"{"virtual-size": 1, "filename": "a", "format": "vmdk", "format-specific": {"data": {"extents": [{}]}}}"#,
                    "{\"virtual-size\": 1, \"filename\": \"a\tb\", \"format\": \"vmdk\"}",
                    #"{"virtual-size": -, "filename": "a", "format": "vmdk"}"#] {
            #expect(QemuImageInfo(json: Array(bad.utf8)) == nil, "\(bad)")
        }
        #expect(QemuImageInfo(json: Array("{\"virtual-size\": 1, \"filename\": \"\u{FF}\", \"format\": \"vmdk\"}".utf8)) != nil)
        var invalid = Array(#"{"virtual-size": 1, "filename": "?", "format": "vmdk"}"#.utf8)
        invalid[invalid.firstIndex(of: UInt8(ascii: "?"))!] = 0xFF
        #expect(QemuImageInfo(json: invalid) == nil)
        // Deep nesting is refused, not recursed into without end.
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(JSONReader.parse(Array(deep.utf8)) == nil)
        #expect(JSONReader.parse(Array((String(repeating: "[", count: 10) + String(repeating: "]", count: 10)).utf8)) != nil)
    }
}
