#if canImport(Glibc)
import Glibc
#endif

/// An error number from a failed system call, with the text Perl shows as `$!`.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The C library's message, e.g. "No such file or directory".
    public var description: String { String(cString: strerror(rawValue)) }

    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    public static let fileExists = Errno(rawValue: EEXIST)
    public static let notDirectory = Errno(rawValue: ENOTDIR)
    public static let isDirectory = Errno(rawValue: EISDIR)
    public static let permissionDenied = Errno(rawValue: EACCES)
    public static let readOnlyFileSystem = Errno(rawValue: EROFS)
    public static let noSpace = Errno(rawValue: ENOSPC)
    public static let interrupted = Errno(rawValue: EINTR)
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    public static let invalidArgument = Errno(rawValue: EINVAL)
    public static let ioError = Errno(rawValue: EIO)
    public static let tooManySymlinks = Errno(rawValue: ELOOP)
    public static let noSuchProcess = Errno(rawValue: ESRCH)
    public static let notSupported = Errno(rawValue: EOPNOTSUPP)
    public static let crossDevice = Errno(rawValue: EXDEV)
    public static let notTypewriter = Errno(rawValue: ENOTTY)
    public static let notImplemented = Errno(rawValue: ENOSYS)
    public static let operationNotPermitted = Errno(rawValue: EPERM)
    public static let tooManyLinks = Errno(rawValue: EMLINK)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
}
