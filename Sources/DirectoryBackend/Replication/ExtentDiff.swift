/// The ranges where a newer reflink snapshot of a disk may differ from an older one.
///
/// Two snapshots of one disk share every extent the disk did not write in between: a
/// byte range is unchanged when both files map it to the same place on the device
/// (compared per byte range, so extents split differently do not matter), or when both
/// read it as zeros (a hole, or an extent allocated but never written). Anything else
/// is changed: a different place, and every extent whose place does not name its bytes
/// alone (unknown, delayed, inline, encoded — compressed on btrfs — or encrypted).
/// Missing a change would corrupt the replica; reporting one too many only sends it.
public enum ExtentDiff {
    /// How one file reads at a byte.
    enum Reading: Equatable {
        case zeros
        /// Bytes at `physical - logical` past the file offset.
        case located(delta: Int64)
        case unknown
    }

    /// The changed ranges within `range` (ascending, disjoint, adjacent ones merged)
    /// from the two files' extent maps over that range.
    public static func changedRanges(old: [FileExtent], new: [FileExtent], in range: Range<Int64>) -> [Range<Int64>] {
        guard !range.isEmpty else { return [] }
        guard let oldPieces = pieces(old, in: range), let newPieces = pieces(new, in: range) else {
            return [range] // an extent map that is not in order: trust none of it
        }
        var bounds = Set([range.lowerBound, range.upperBound])
        for piece in oldPieces + newPieces {
            bounds.insert(piece.range.lowerBound)
            bounds.insert(piece.range.upperBound)
        }
        let points = bounds.sorted()
        var changed: [Range<Int64>] = []
        var oldIndex = 0, newIndex = 0
        for (start, end) in zip(points, points.dropFirst()) {
            let before = reading(at: start, oldPieces, &oldIndex)
            let after = reading(at: start, newPieces, &newIndex)
            let same = before == after && before != .unknown
            guard !same else { continue }
            if let last = changed.last, last.upperBound == start {
                changed[changed.count - 1] = last.lowerBound..<end
            } else {
                changed.append(start..<end)
            }
        }
        return changed
    }

    /// Changed ranges merged with those less than `gap` apart (fewer, larger records).
    public static func coalesced(_ ranges: [Range<Int64>], gap: Int64) -> [Range<Int64>] {
        var merged: [Range<Int64>] = []
        for range in ranges {
            if let last = merged.last, range.lowerBound - last.upperBound < gap {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    struct Piece {
        var range: Range<Int64>
        var reading: Reading
    }

    /// The extents clipped to `range`; nil when they overlap or are out of order, or
    /// their arithmetic would overflow.
    static func pieces(_ extents: [FileExtent], in range: Range<Int64>) -> [Piece]? {
        var result: [Piece] = []
        var previousEnd = Int64.min
        for extent in extents {
            let (end, overflow) = extent.logical.addingReportingOverflow(extent.length)
            guard !overflow, extent.length > 0, extent.logical >= previousEnd else { return nil }
            previousEnd = end
            let clipped = max(extent.logical, range.lowerBound)..<max(min(end, range.upperBound), max(extent.logical, range.lowerBound))
            guard !clipped.isEmpty else { continue }
            let reading: Reading
            if !extent.flags.isDisjoint(with: FileExtent.Flags.untrustedLocation) {
                reading = .unknown
            } else if extent.flags.contains(.unwritten) {
                reading = .zeros
            } else {
                let (delta, overflow) = extent.physical.subtractingReportingOverflow(extent.logical)
                reading = overflow ? .unknown : .located(delta: delta)
            }
            result.append(Piece(range: clipped, reading: reading))
        }
        return result
    }

    /// The reading at `offset` (a bound of the sweep, visited in ascending order).
    private static func reading(at offset: Int64, _ pieces: [Piece], _ index: inout Int) -> Reading {
        while index < pieces.count, pieces[index].range.upperBound <= offset { index += 1 }
        guard index < pieces.count, pieces[index].range.contains(offset) else { return .zeros }
        return pieces[index].reading
    }
}
