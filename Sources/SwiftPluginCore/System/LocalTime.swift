#if canImport(Glibc)
import Glibc
#endif

/// A calendar time in the node's local time zone (`TZ`), as Perl's `localtime`
/// and Time::Local's `timelocal` see it. Backup names carry local time, and
/// retention periods are local hours, days, weeks, months and years.
public struct LocalTime: Equatable, Sendable {
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

    /// The local calendar time of `epoch`; nil when the C library cannot represent it.
    public init?(epoch: Int64) {
        var time = time_t(epoch)
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return nil }
        year = Int(parts.tm_year) + 1900
        month = Int(parts.tm_mon) + 1
        day = Int(parts.tm_mday)
        hour = Int(parts.tm_hour)
        minute = Int(parts.tm_min)
        second = Int(parts.tm_sec)
    }

    /// Seconds since the epoch of this local time (`timelocal`), after the range
    /// checks Time::Local makes; the error names the first field out of range.
    public func epoch() throws(StorageError) -> Int64 {
        guard (1...12).contains(month) else { throw StorageError("Month '\(month - 1)' out of range 0..11") }
        let days = LocalTime.daysInMonth(month, year: year)
        guard (1...days).contains(day) else { throw StorageError("Day '\(day)' out of range 1..\(days)") }
        guard (0...23).contains(hour) else { throw StorageError("Hour '\(hour)' out of range 0..23") }
        guard (0...59).contains(minute) else { throw StorageError("Minute '\(minute)' out of range 0..59") }
        guard (0...59).contains(second) else { throw StorageError("Second '\(second)' out of range 0..59") }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        parts.tm_isdst = -1
        let result = mktime(&parts)
        // -1 is also a valid time (1969-12-31 23:59:59 UTC); only a changed year means failure.
        guard result != -1 || Int(parts.tm_year) + 1900 == year else {
            throw StorageError("Cannot handle date (\(second), \(minute), \(hour), \(day), \(month - 1), \(year))")
        }
        return Int64(result)
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

extension LocalTime {
    /// Reads the time zone (`TZ`) again, as Perl's `localtime` does on each call;
    /// `localtime_r` alone may keep using the zone it saw first.
    public static func readTimeZone() { tzset() }

    /// The current local time.
    public static var now: LocalTime? { LocalTime(epoch: Int64(time(nil))) }
}
