import PVEStorage
#if canImport(Glibc)
import Glibc
#endif
import DirectoryBackend

/// The one retry loop of the live system: a C call that fails with -1 and `errno` is
/// called again while a signal interrupted it (EINTR).
@inline(__always)
func retryingInterrupts<Result: FixedWidthInteger & SignedInteger>(_ call: () -> Result) throws(Errno) -> Result {
    while true {
        let result = call()
        if result >= 0 { return result }
        if errno != EINTR { throw Errno(rawValue: errno) }
    }
}
