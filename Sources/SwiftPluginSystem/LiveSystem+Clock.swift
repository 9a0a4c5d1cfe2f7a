import PVEStorage
import CSystemShims
import DirectoryBackend

#if canImport(Glibc)
import Glibc
#endif

/// The clocks and the time zone of ``LiveSystem``.
extension LiveSystem {
    public func currentTime() -> Int64 { Int64(time(nil)) }

    public func monotonicTime() -> Int64 { Monotonic.now() }


    public func localTime(at epoch: Int64) -> LocalTime? {
        var time = time_t(epoch)
        var parts = tm()
        // localtime_r, unlike localtime, may keep the zone it saw first: a daemon's TZ can change.
        tzset()
        guard localtime_r(&time, &parts) != nil else { return nil }
        return LocalTime(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                         hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec))
    }
}

/// Monotonic clock in nanoseconds.
enum Monotonic {
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
