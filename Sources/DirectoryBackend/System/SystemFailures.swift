import PVEStorage

/// A failure converting a local time to the epoch, worded as Time::Local's `timelocal`.
public enum LocalTimeFailure: StorageFailure {
    /// A month outside 1...12; worded 0-based, as `timelocal` counts months.
    case monthOutOfRange(Int)
    /// A day outside 1...`days`, the days of its month.
    case dayOutOfRange(Int, days: Int)
    case hourOutOfRange(Int)
    case minuteOutOfRange(Int)
    case secondOutOfRange(Int)
    /// The system's `localtime` has no answer near the time.
    case cannotHandle(LocalTime)

    public var description: String {
        switch self {
        case .monthOutOfRange(let month): "Month '\(month - 1)' out of range 0..11"
        case .dayOutOfRange(let day, let days): "Day '\(day)' out of range 1..\(days)"
        case .hourOutOfRange(let hour): "Hour '\(hour)' out of range 0..23"
        case .minuteOutOfRange(let minute): "Minute '\(minute)' out of range 0..59"
        case .secondOutOfRange(let second): "Second '\(second)' out of range 0..59"
        case .cannotHandle(let time):
            "Cannot handle date (\(time.second), \(time.minute), \(time.hour), \(time.day), \(time.month - 1), \(time.year))"
        }
    }
}
