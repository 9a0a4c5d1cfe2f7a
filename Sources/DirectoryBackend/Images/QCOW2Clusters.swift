/// The cluster tables of a qcow2 image (QEMU's docs/interop/qcow2.txt): which guest
/// ranges hold data where in the file, read as zeros, are left to the backing file,
/// or are compressed. Read from an untrusted file: every offset and length is checked
/// against the file and the format before it is used, and arithmetic never traps.
public struct QCOW2Layout: Equatable, Sendable {
    public var clusterBits: Int
    public var virtualSize: Int64
    public var l1Offset: Int64
    public var l1Entries: Int
    /// Extended L2 entries (128 bits, 32 subclusters per cluster).
    public var extendedL2: Bool
    /// The data lives in an external data file (incompatible feature bit 2).
    public var externalDataFile: Bool
    /// Compressed clusters use zstd rather than zlib (incompatible feature bit 3).
    public var nonDefaultCompression: Bool
    /// The image is encrypted (crypt_method != 0).
    public var encrypted: Bool
    public var backingFile: String?
    /// The backing file's format from the header extension (``ImageHeader/backingFormat``).
    public var backingFormat: String?

    public var clusterSize: Int64 { Int64(1) << Int64(clusterBits) }
    /// Bytes per L2 entry.
    var entryBytes: Int { extendedL2 ? 16 : 8 }
    var entriesPerTable: Int64 { clusterSize / Int64(entryBytes) }
    /// Guest bytes one L2 table maps.
    var tableCoverage: Int64 { entriesPerTable * clusterSize }

    /// QEMU's limit on the active L1 table (QCOW_MAX_L1_SIZE).
    static let maximumL1Bytes: Int64 = 32 << 20
    /// Bits 9-55 of an L1 or L2 entry: a cluster's offset in the file.
    static let offsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    static let compressedBit: UInt64 = 1 << 62

    /// The cluster tables' part of a parsed header, checked against the format and a
    /// file of `fileLength` bytes.
    public init(_ header: QCOW2.Header, fileLength: Int64) throws(ImageFormatError) {
        let incompatible = header.incompatibleFeatures
        clusterBits = header.clusterBits
        virtualSize = header.virtualSize
        extendedL2 = incompatible & (1 << 4) != 0
        externalDataFile = incompatible & (1 << 2) != 0
        nonDefaultCompression = incompatible & (1 << 3) != 0
        encrypted = header.cryptMethod != 0
        backingFile = header.backingFile
        backingFormat = header.backingFormat
        // Set once checked, below.
        l1Offset = 0
        l1Entries = 0
        guard extendedL2 == false || clusterBits >= 14 else {
            throw ImageFormatError.unusable("Extended L2 entries are only supported with cluster sizes of at least 16384 bytes")
        }
        // Room for every offset computed below (QEMU's own limit is lower still).
        guard virtualSize <= Int64(1) << 62 else { throw ImageFormatError.unusable("Image is too big") }
        // The L1 table must map the whole disk, lie inside the file and be cluster-aligned.
        let l1Size = header.l1Size, l1Offset = header.l1Offset
        let needed = virtualSize / tableCoverage + (virtualSize % tableCoverage == 0 ? 0 : 1)
        guard Int64(l1Size) >= needed else { throw ImageFormatError.unusable("L1 table is too small") }
        guard Int64(l1Size) * 8 <= Self.maximumL1Bytes else { throw ImageFormatError.unusable("Active L1 table too large") }
        guard l1Offset <= UInt64(Int64.max), Int64(l1Offset) % clusterSize == 0 else {
            throw ImageFormatError.unusable("Invalid L1 table offset")
        }
        guard Int64(l1Offset) <= fileLength, Int64(l1Size) * 8 <= fileLength - Int64(l1Offset) else {
            throw ImageFormatError.unusable("Invalid L1 table offset")
        }
        self.l1Offset = Int64(l1Offset)
        l1Entries = Int(l1Size)
    }
}

/// One stretch of the guest's view of a qcow2 image.
public enum ClusterRun: Equatable, Sendable {
    /// Guest bytes `[start, start+length)` are the file's bytes at `host`.
    case data(start: Int64, host: Int64, length: Int64)
    /// Read as zeros.
    case zero(start: Int64, length: Int64)
    /// Not allocated here: the backing file's bytes (zeros without one).
    case unallocated(start: Int64, length: Int64)
    /// Compressed clusters (need decompression).
    case compressed(start: Int64, length: Int64)

    public var start: Int64 {
        switch self {
        case .data(let start, _, _), .zero(let start, _), .unallocated(let start, _), .compressed(let start, _): return start
        }
    }

    public var length: Int64 {
        switch self {
        case .data(_, _, let length), .zero(_, let length), .unallocated(_, let length), .compressed(_, let length): return length
        }
    }

    /// This run followed by `next`, when the two are one run.
    func merged(with next: ClusterRun) -> ClusterRun? {
        guard start + length == next.start else { return nil }
        switch (self, next) {
        case let (.data(start, host, length), .data(_, nextHost, nextLength)) where host + length == nextHost:
            return .data(start: start, host: host, length: length + nextLength)
        case let (.zero(start, length), .zero(_, nextLength)): return .zero(start: start, length: length + nextLength)
        case let (.unallocated(start, length), .unallocated(_, nextLength)):
            return .unallocated(start: start, length: length + nextLength)
        case let (.compressed(start, length), .compressed(_, nextLength)):
            return .compressed(start: start, length: length + nextLength)
        default: return nil
        }
    }
}

/// The guest-to-file mapping of one qcow2 image, one L2 table at a time.
public struct QCOW2ClusterMap {
    public let file: ImageFile
    public let layout: QCOW2Layout
    let l1: [UInt64]

    public init(file: ImageFile) throws(ImageFormatError) {
        try self.init(file: file, header: QCOW2.Header(reading: file))
    }

    public init(file: ImageFile, header: QCOW2.Header) throws(ImageFormatError) {
        self.file = file
        layout = try QCOW2Layout(header, fileLength: file.length)
        let table: [UInt8]?
        do { table = try file.bytes(at: layout.l1Offset, count: layout.l1Entries * 8) } catch {
            throw ImageFormatError.unusable("Could not read L1 table: \(error)")
        }
        guard let table else { throw ImageFormatError.unusable("Could not read L1 table: Invalid argument") }
        l1 = stride(from: 0, to: table.count, by: 8).map { ByteFields.bigEndian(table, at: $0, width: 8) ?? 0 }
    }

    /// The runs covering guest bytes `[start, start+count)`, clipped to the virtual size,
    /// adjacent runs of one kind merged.
    public func runs(from start: Int64, count: Int64) throws(ImageFormatError) -> [ClusterRun] {
        guard start >= 0, count > 0, start < layout.virtualSize else { return [] }
        let end = start + min(count, layout.virtualSize - start)
        var result: [ClusterRun] = []
        func append(_ run: ClusterRun) {
            if let last = result.last, let merged = last.merged(with: run) { result[result.count - 1] = merged } else { result.append(run) }
        }
        var position = start
        while position < end {
            let tableIndex = Int(position / layout.tableCoverage)
            let tableStart = Int64(tableIndex) * layout.tableCoverage
            let tableEnd = layout.tableCoverage > end - tableStart ? end : tableStart + layout.tableCoverage
            guard tableIndex < l1.count else { throw ImageFormatError.unusable("L1 table is too small") }
            let l2Offset = l1[tableIndex] & QCOW2Layout.offsetMask
            if l2Offset == 0 {
                append(.unallocated(start: position, length: tableEnd - position))
                position = tableEnd
                continue
            }
            guard Int64(l2Offset) % layout.clusterSize == 0 else { throw ImageFormatError.unusable("L2 table offset 0x\(String(l2Offset, radix: 16)) unaligned") }
            let table: [UInt8]?
            do { table = try file.bytes(at: Int64(l2Offset), count: Int(layout.clusterSize)) } catch {
                throw ImageFormatError.unusable("Could not read L2 table: \(error)")
            }
            guard let table else { throw ImageFormatError.unusable("L2 table offset 0x\(String(l2Offset, radix: 16)) beyond the end of the image") }
            while position < tableEnd {
                let clusterIndex = (position - tableStart) >> Int64(layout.clusterBits)
                let clusterStart = tableStart + clusterIndex << Int64(layout.clusterBits)
                let clusterEnd = layout.clusterSize > tableEnd - clusterStart ? tableEnd : clusterStart + layout.clusterSize
                for run in try clusterRuns(table, index: Int(clusterIndex), clusterStart: clusterStart) {
                    // Clip to [position, clusterEnd).
                    let runStart = max(run.start, position)
                    let runEnd = min(run.start + run.length, clusterEnd)
                    guard runStart < runEnd else { continue }
                    let delta = runStart - run.start
                    switch run {
                    case .data(_, let host, _): append(.data(start: runStart, host: host + delta, length: runEnd - runStart))
                    case .zero: append(.zero(start: runStart, length: runEnd - runStart))
                    case .unallocated: append(.unallocated(start: runStart, length: runEnd - runStart))
                    case .compressed: append(.compressed(start: runStart, length: runEnd - runStart))
                    }
                }
                position = clusterEnd
            }
        }
        return result
    }

    /// The runs of one whole cluster from its L2 entry (and, with extended L2, its subcluster bitmap).
    func clusterRuns(_ table: [UInt8], index: Int, clusterStart: Int64) throws(ImageFormatError) -> [ClusterRun] {
        let at = index * layout.entryBytes
        guard let entry = ByteFields.bigEndian(table, at: at, width: 8) else { throw ImageFormatError.unusable("Could not read L2 table: Invalid argument") }
        let size = layout.clusterSize
        if entry & QCOW2Layout.compressedBit != 0 { return [.compressed(start: clusterStart, length: size)] }
        let host = entry & QCOW2Layout.offsetMask
        if host != 0 {
            guard Int64(host) % size == 0 else {
                throw ImageFormatError.unusable("Cluster allocation offset 0x\(String(host, radix: 16)) unaligned")
            }
            guard Int64(host) < file.length else {
                throw ImageFormatError.unusable("Cluster allocation offset 0x\(String(host, radix: 16)) beyond the end of the image")
            }
        }
        guard layout.extendedL2 else {
            if entry & 1 != 0 { return [.zero(start: clusterStart, length: size)] }
            if host == 0 { return [.unallocated(start: clusterStart, length: size)] }
            return [.data(start: clusterStart, host: Int64(host), length: size)]
        }
        guard let bitmap = ByteFields.bigEndian(table, at: at + 8, width: 8) else {
            throw ImageFormatError.unusable("Could not read L2 table: Invalid argument")
        }
        let allocated = bitmap & 0xFFFF_FFFF
        let zeros = bitmap >> 32
        guard allocated & zeros == 0 else { throw ImageFormatError.unusable("Invalid subcluster bitmap 0x\(String(bitmap, radix: 16))") }
        guard host != 0 || allocated == 0 else { throw ImageFormatError.unusable("Subclusters allocated without a cluster offset") }
        let subcluster = size / 32
        var runs: [ClusterRun] = []
        for bit in 0..<Int64(32) {
            let start = clusterStart + bit * subcluster
            let run: ClusterRun
            if allocated >> UInt64(bit) & 1 != 0 {
                // A cluster may start inside the file and an allocated subcluster of it lie beyond.
                let subclusterHost = Int64(host) + bit * subcluster
                guard subclusterHost < file.length else {
                    throw ImageFormatError.unusable("Cluster allocation offset 0x\(String(subclusterHost, radix: 16)) beyond the end of the image")
                }
                run = .data(start: start, host: subclusterHost, length: subcluster)
            } else if zeros >> UInt64(bit) & 1 != 0 {
                run = .zero(start: start, length: subcluster)
            } else {
                run = .unallocated(start: start, length: subcluster)
            }
            if let last = runs.last, let merged = last.merged(with: run) { runs[runs.count - 1] = merged } else { runs.append(run) }
        }
        return runs
    }

    /// Whether any cluster is compressed (read from the L2 tables only).
    public func hasCompressedClusters() throws(ImageFormatError) -> Bool {
        var position: Int64 = 0
        while position < layout.virtualSize {
            let length = min(layout.tableCoverage, layout.virtualSize - position)
            if try runs(from: position, count: length).contains(where: { if case .compressed = $0 { return true } else { return false } }) {
                return true
            }
            position += length
        }
        return false
    }
}
