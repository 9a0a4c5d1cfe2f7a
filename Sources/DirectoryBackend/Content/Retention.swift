import PVEStorage

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
    /// The guest: an integer from a vzdump name, else the listing's string; nil when unknown.
    public var vmid: GuestID?
    public var mark: PruneMark?

    public init(volid: String, type: String, ctime: Int64, vmid: GuestID? = nil, mark: PruneMark? = nil) {
        self.volid = volid
        self.type = type
        self.ctime = ctime
        self.vmid = vmid
        self.mark = mark
    }

}

/// A guest as a prune entry names it: the number of a vzdump name, or the owner a
/// listing found in a non-standard name.
public enum GuestID: Equatable, Sendable {
    case number(Int64)
    case name(String)
}

/// Retention: which backups of one guest-and-type group to keep (PVE::Storage's `prune_mark_backup_group`,
/// PVE's `prune_mark_backup_group`). The keep options are taken as given: zeros,
/// missing and even unknown keys mean what they mean to PVE.
public struct Retention: Sendable {
    /// `keep-last`, `keep-hourly`, ..., `keep-all`, as PVE passes them.
    public var options: [String: Scalar]

    public init(_ options: [String: Scalar]) {
        self.options = options
    }

    /// The passes in PVE's fixed order, each with the period a backup falls into.
    /// The period of a local time; nil for `keep-last`, whose period is the time itself.
    static let passes: [(option: String, period: (@Sendable (LocalTime) -> [Int])?)] = [
        ("keep-last", nil),
        ("keep-hourly", { [$0.hour, $0.day, $0.month, $0.year] }),
        ("keep-daily", { [$0.day, $0.month, $0.year] }),
        ("keep-weekly", { [$0.isoWeek.week, $0.isoWeek.year] }),
        ("keep-monthly", { [$0.month, $0.year] }),
        ("keep-yearly", { [$0.year] }),
    ]

    /// Keep everything: `keep-all` is set, or no option (of any name) is positive.
    public var keepsAll: Bool {
        if options["keep-all"]?.isTrue == true { return true }
        return !options.contains { $0.key != "keep-all" && $0.value.number > 0 }
    }

    /// Marks every entry of one group; entries marked `protected` keep their mark
    /// and neither take a slot nor cover a period. Periods are in `system`'s time zone.
    public func mark(_ group: inout [PruneEntry], in system: any SystemCalls) {
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
            let limit = count.number
            func period(_ time: Int64) -> [Int] {
                guard let local = pass.period else { return [Int(time)] }
                return system.localTime(at: time).map(local) ?? [Int(time)]
            }
            var covered: Set<[Int]> = []
            for index in order where group[index].mark == .keep {
                covered.insert(period(group[index].ctime))
            }
            var included: Set<[Int]> = []
            for index in order {
                guard group[index].mark == nil else { continue }
                let slot = period(group[index].ctime)
                if covered.contains(slot) { continue }
                if included.contains(slot) {
                    group[index].mark = .remove
                } else {
                    if Double(included.count) >= limit { break }
                    included.insert(slot)
                    group[index].mark = .keep
                }
            }
        }
        for index in group.indices where group[index].mark == nil {
            group[index].mark = .remove
        }
    }
}

extension Retention: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral options: (String, Scalar)...) {
        self.init(Dictionary(options, uniquingKeysWith: { $1 }))
    }
}
