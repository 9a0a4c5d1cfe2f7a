import PVEStorage

/// A calendar time in the node's local time zone (`TZ`), as Perl's `localtime`
/// and Time::Local's `timelocal` see it. Backup names carry local time, and
/// retention periods are local hours, days, weeks, months and years. The zone's
/// rules are the system's (``SystemCalls/localTime(at:)``).
public struct LocalTime: Hashable, Sendable {
    public var year: Int
    /// 1...12
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// Seconds since the epoch of this local time, as Time::Local's `timelocal` (which
    /// PVE uses) finds it, after the range checks it makes; the error names the first
    /// field out of range. Like `timelocal`, and unlike `mktime`, it reads the zone
    /// only through `localtime`: the time taken as UTC, moved by the zone's offset there,
    /// then corrected where a daylight saving change lies between. A time that occurs
    /// twice is its first occurrence; one in a gap is moved past it.
    public func epoch(in system: any SystemCalls) throws(StorageError) -> Int64 {
        guard (1...12).contains(month) else { throw StorageError(LocalTimeFailure.monthOutOfRange(month)) }
        let days = LocalTime.daysInMonth(month, year: year)
        guard (1...days).contains(day) else { throw StorageError(LocalTimeFailure.dayOutOfRange(day, days: days)) }
        guard (0...23).contains(hour) else { throw StorageError(LocalTimeFailure.hourOutOfRange(hour)) }
        guard (0...59).contains(minute) else { throw StorageError(LocalTimeFailure.minuteOutOfRange(minute)) }
        guard (0...59).contains(second) else { throw StorageError(LocalTimeFailure.secondOutOfRange(second)) }
        var cannotHandle: StorageError {
            StorageError(LocalTimeFailure.cannotHandle(self))
        }
        /// The local time at `epoch`, read as if it were UTC.
        func localAsUTC(_ epoch: Int64) throws(StorageError) -> Int64 {
            guard let local = system.localTime(at: epoch) else { throw cannotHandle }
            return local.utcEpoch
        }
        let reference = utcEpoch
        let zoneOffset = try localAsUTC(reference) - reference
        if zoneOffset == 0 { return reference }
        var epoch = reference - zoneOffset
        let changeOffset = reference - (try localAsUTC(epoch))
        // No change here, but the hour before is one of a change back: the first occurrence.
        if changeOffset == 0, (reference - 3600) - (try localAsUTC(epoch - 3600)) < 0 { return epoch - 3600 }
        epoch += changeOffset
        if changeOffset > 0 { return epoch }
        // A time in the gap of a change forward: undo the correction.
        guard let check = system.localTime(at: epoch) else { throw cannotHandle }
        if check.second != second || check.minute != minute || check.hour != hour { epoch -= changeOffset }
        return epoch
    }

    /// Seconds since the epoch of this calendar time taken as UTC (days from civil on
    /// the proleptic Gregorian calendar; Time::Local's `timegm` once its checks passed).
    public var utcEpoch: Int64 {
        let shiftedYear = Int64(month <= 2 ? year - 1 : year)
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * Int64(month + (month > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    public static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    public static func daysInMonth(_ month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// The ISO-8601 week (`%V`) and week-based year (`%G`) of this date.
    public var isoWeek: (week: Int, year: Int) {
        let weekday = LocalTime.isoWeekday(year: year, month: month, day: day)
        let ordinal = LocalTime.dayOfYear(year: year, month: month, day: day)
        let week = (ordinal - weekday + 10) / 7
        if week < 1 { return (LocalTime.isoWeeksInYear(year - 1), year - 1) }
        if week > LocalTime.isoWeeksInYear(year) { return (1, year + 1) }
        return (week, year)
    }

    static func dayOfYear(year: Int, month: Int, day: Int) -> Int {
        var ordinal = day
        var current = 1
        while current < month {
            ordinal += daysInMonth(current, year: year)
            current += 1
        }
        return ordinal
    }

    /// 1 = Monday ... 7 = Sunday (Sakamoto's method on the proleptic Gregorian calendar).
    static func isoWeekday(year: Int, month: Int, day: Int) -> Int {
        let offsets = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
        let shifted = month < 3 ? year - 1 : year
        let index = min(max(month - 1, 0), 11)
        var sunday0 = (shifted + floorDivide(shifted, 4) - floorDivide(shifted, 100) + floorDivide(shifted, 400)
            + offsets[index] + day) % 7
        if sunday0 < 0 { sunday0 += 7 }
        return sunday0 == 0 ? 7 : sunday0
    }

    static func isoWeeksInYear(_ year: Int) -> Int {
        // A year has 53 ISO weeks when it starts on a Thursday, or is a leap year starting on a Wednesday.
        let january1 = isoWeekday(year: year, month: 1, day: 1)
        return january1 == 4 || (january1 == 3 && isLeapYear(year)) ? 53 : 52
    }

    static func floorDivide(_ value: Int, _ divisor: Int) -> Int {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }
}
