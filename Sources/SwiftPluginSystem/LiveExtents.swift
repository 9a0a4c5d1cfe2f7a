import PVEStorage
import CSystemShims
import DirectoryBackend

#if canImport(Glibc)
import Glibc
#endif

/// Extent maps, extended attributes and holes (replication).
extension LiveSystem {
    public func extents(of descriptor: Int32, from offset: Int64, count: Int64) throws(Errno) -> [FileExtent] {
        guard offset >= 0, count > 0 else { return [] }
        let end = offset.addingReportingOverflow(count).overflow ? Int64.max : offset + count
        var result: [FileExtent] = []
        var position = offset
        var batch = [spve_extent](repeating: spve_extent(), count: 128)
        while position < end {
            let found = try retryingInterrupts {
                batch.withUnsafeMutableBufferPointer { buffer in
                    spve_fiemap(descriptor, UInt64(position), UInt64(end - position), buffer.baseAddress, UInt32(buffer.count))
                }
            }
            guard found > 0 else { break }
            var last = false
            for extent in batch[0..<Int(found)] {
                // The kernel's values are 64-bit unsigned; anything past Int64 is no extent of a file.
                guard let logical = Int64(exactly: extent.logical), let physical = Int64(exactly: extent.physical),
                      let length = Int64(exactly: extent.length), length > 0,
                      !logical.addingReportingOverflow(length).overflow else { throw .ioError }
                result.append(FileExtent(logical: logical, physical: physical, length: length,
                                         flags: FileExtent.Flags(rawValue: extent.flags)))
                if extent.flags & FileExtent.Flags.last.rawValue != 0 { last = true }
            }
            let next = result[result.count - 1].logical + result[result.count - 1].length
            // An extent map that does not move forward would loop: the kernel's, not ours.
            guard !last, next > position else { break }
            position = next
        }
        return result
    }

    public func extendedAttribute(_ name: String, of path: String) throws(Errno) -> [UInt8]? {
        var size = 256
        while true {
            var value = [UInt8](repeating: 0, count: size)
            let count = value.withUnsafeMutableBytes { lgetxattr(path, name, $0.baseAddress, $0.count) }
            if count >= 0 { return Array(value[0..<count]) }
            switch errno {
            case ENODATA: return nil
            case ERANGE where size < 65536: size *= 4
            default: throw Errno(rawValue: errno)
            }
        }
    }

    public func setExtendedAttribute(_ name: String, of path: String, to value: [UInt8]) throws(Errno) {
        let result = value.withUnsafeBytes { lsetxattr(path, name, $0.baseAddress, $0.count, 0) }
        guard result == 0 else { throw Errno(rawValue: errno) }
    }

    public func punchHole(_ descriptor: Int32, at offset: Int64, count: Int64) throws(Errno) {
        _ = try retryingInterrupts { spve_punch_hole(descriptor, offset, count) }
    }
}
