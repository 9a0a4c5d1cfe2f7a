/// The mark pruning gives a backup.
public enum PruneMark: String, Sendable {
    case keep, remove, protected, renamed
}

/// One backup as pruning sees it, and the entry of `prune_backups`' result.
public struct PruneEntry: Equatable, Sendable {
    public var volid: String
    /// `qemu`, `lxc`, `openvz` or `unknown`.
    public var type: String
    public var ctime: Int64
    /// The guest: an integer from a vzdump name, else the listing's string; absent when unknown.
    public var vmid: Value
    public var mark: PruneMark?

    public init(volid: String, type: String, ctime: Int64, vmid: Value = .undef, mark: PruneMark? = nil) {
        self.volid = volid
        self.type = type
        self.ctime = ctime
        self.vmid = vmid
        self.mark = mark
    }

    public var perlValue: Value {
        var members: [String: Value] = [
            "volid": .string(volid), "type": .string(type), "ctime": .int(ctime),
            "mark": mark.map { .string($0.rawValue) } ?? .undef,
        ]
        if vmid.isDefined { members["vmid"] = vmid }
        return .hash(members)
    }
}

/// Retention: which backups of one guest-and-type group to keep (prune.md §4,
/// PVE's `prune_mark_backup_group`). The keep hash is taken as given: zeros,
/// missing and even unknown keys mean what they mean to PVE.
public struct Retention: Sendable {
    public var options: [String: Value]

    public init(_ keep: Value) {
        options = keep.hash ?? [:]
    }

    /// The passes in PVE's fixed order, each with the period a backup falls into.
    static let passes: [(option: String, period: @Sendable (Int64) -> [Int])] = [
        ("keep-last", { [Int($0)] }),
        ("keep-hourly", { time in LocalTime(epoch: time).map { [$0.hour, $0.day, $0.month, $0.year] } ?? [Int(time)] }),
        ("keep-daily", { time in LocalTime(epoch: time).map { [$0.day, $0.month, $0.year] } ?? [Int(time)] }),
        ("keep-weekly", { time in LocalTime(epoch: time).map { [$0.isoWeek.week, $0.isoWeek.year] } ?? [Int(time)] }),
        ("keep-monthly", { time in LocalTime(epoch: time).map { [$0.month, $0.year] } ?? [Int(time)] }),
        ("keep-yearly", { time in LocalTime(epoch: time).map { [$0.year] } ?? [Int(time)] }),
    ]

    /// Keep everything: `keep-all` is set, or no option (of any name) is positive.
    public var keepsAll: Bool {
        if options["keep-all"]?.isTrue == true { return true }
        return !options.contains { $0.key != "keep-all" && PerlNumber($0.value).value > 0 }
    }

    /// Marks every entry of one group; entries marked `protected` keep their mark
    /// and neither take a slot nor cover a period.
    public func mark(_ group: inout [PruneEntry]) {
        if keepsAll {
            for index in group.indices where group[index].mark == nil || group[index].mark == .remove {
                group[index].mark = .keep
            }
            return
        }
        // Newest first; equal times keep their listing order (Perl's sort is stable).
        let order = group.indices.sorted { a, b in
            group[a].ctime != group[b].ctime ? group[a].ctime > group[b].ctime : a < b
        }
        for pass in Self.passes {
            guard let count = options[pass.option], count.isTrue else { continue }
            let limit = PerlNumber(count).value
            var covered: Set<[Int]> = []
            for index in order where group[index].mark == .keep {
                covered.insert(pass.period(group[index].ctime))
            }
            var included: Set<[Int]> = []
            for index in order {
                guard group[index].mark == nil else { continue }
                let period = pass.period(group[index].ctime)
                if covered.contains(period) { continue }
                if included.contains(period) {
                    group[index].mark = .remove
                } else {
                    if Double(included.count) >= limit { break }
                    included.insert(period)
                    group[index].mark = .keep
                }
            }
        }
        for index in group.indices where group[index].mark == nil {
            group[index].mark = .remove
        }
    }
}

/// A Perl scalar in numeric context: integers and floats as they are, strings by
/// their leading number ("3", " 2x" → 2, "abc" → 0), undef as 0.
struct PerlNumber {
    var value: Double

    init(_ scalar: Value) {
        switch scalar {
        case .int(let number): value = Double(number)
        case .double(let number): value = number
        case .string(let text), .text(let text): value = PerlNumber.leadingNumber(text)
        default: value = 0
        }
    }

    static func leadingNumber(_ text: String) -> Double {
        var bytes = Array(text.utf8)[...]
        while let first = bytes.first, Grammar.isWhitespace(first) { bytes = bytes.dropFirst() }
        var end = bytes.startIndex
        if end < bytes.endIndex, bytes[end] == UInt8(ascii: "-") || bytes[end] == UInt8(ascii: "+") { end += 1 }
        var sawDigit = false, sawDot = false
        while end < bytes.endIndex {
            let byte = bytes[end]
            if (0x30...0x39).contains(byte) { sawDigit = true } else if byte == UInt8(ascii: "."), !sawDot { sawDot = true } else { break }
            end += 1
        }
        guard sawDigit else { return 0 }
        return Double(String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)) ?? 0
    }
}
