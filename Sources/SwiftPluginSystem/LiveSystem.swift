import PVEStorage
import CSystemShims
import DirectoryBackend

#if canImport(Glibc)
import Glibc
#endif

/// The real operating system: the only place the storage calls the C library for I/O.
public struct LiveSystem: SystemCalls {
    public init() {}
}

/// The C locale, for error texts: Perl's `$!` is English outside `use locale`, whatever
/// the daemon's LANG says.
nonisolated(unsafe) private let cLocale = newlocale(1 << LC_MESSAGES, "C", nil) // LC_MESSAGES_MASK

extension Errno {
    /// The error `number`, with the C library's text for it in the C locale.
    init(rawValue number: Int32) {
        let text = cLocale.map { strerror_l(number, $0) } ?? strerror(number)
        self.init(rawValue: number, description: text.map { String(cString: $0) } ?? "Unknown error \(number)")
    }
}
