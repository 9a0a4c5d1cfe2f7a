import DirectoryBackend
import PVEStorage
import PVEStoragePerl
import SwiftPlugin

/// The size header of a migration stream: 8 bytes from whoever sends the stream.
enum StreamHeaderTarget {
    static func run(_ input: [UInt8]) {
        guard let value = StreamHeader.decode(Array(input.prefix(8))) else {
            if input.count >= 8 { violated("8 bytes did not decode") }
            return
        }
        guard StreamHeader.encode(value) == Array(input.prefix(8)) else { violated("encode(decode(h)) != h") }
        let (kib, notice) = StreamHeader.kibibytes(value)
        // The KiB cover the size, by less than one KiB, and a notice exactly when rounded.
        let (bytes, overflow) = kib.multipliedReportingOverflow(by: 1024)
        if !overflow, bytes < value || bytes - value >= 1024 { violated("\(value) bytes rounded to \(kib) KiB") }
        if (notice == nil) != (value % 1024 == 0) { violated("rounding notice for \(value)") }
    }
}

/// qcow2 cluster tables: an exported image (the storage's, or one that was imported).
enum QCOW2ClustersTarget {
    /// Guest bytes mapped per input at most (a hostile L1 may describe a huge disk).
    static let limit: Int64 = 1 << 34

    static func run(_ input: [UInt8]) {
        let system = MemorySystem(contents: input)
        let file = ImageFile(path: MemorySystem.path, length: Int64(input.count), system: system)
        _ = try? VMDK.readHeader(file)
        guard let map = try? QCOW2ClusterMap(file: file) else { return }
        let size = map.layout.virtualSize
        if size < 0 { violated("negative virtual size") }
        let wanted = min(size, limit)
        guard let runs = try? map.runs(from: 0, count: wanted) else { return }
        // The runs tile [0, wanted) in order, and data lies inside the file.
        var position: Int64 = 0
        for run in runs {
            guard run.start == position, run.length > 0 else { violated("run \(run) at \(position)") }
            if case .data(_, let host, _) = run, host < 0 || host >= Int64(input.count) {
                violated("data at \(host) outside a file of \(input.count) bytes")
            }
            position += run.length
        }
        if position != wanted { violated("runs end at \(position), not \(wanted)") }
        _ = try? map.runs(from: wanted / 3, count: wanted / 2)
    }
}

/// The JSON qemu-img writes about an imported image: parsed by the core's bounded reader.
enum QemuImgInfoTarget {
    static func run(_ input: [UInt8]) {
        guard let info = QemuImageInfo(json: input) else { return }
        // What was read came from the document: a size that fits, names that are strings.
        if let extents = info.extents, extents.count * 12 > input.count { violated("\(extents.count) extents in \(input.count) bytes") }
    }
}
