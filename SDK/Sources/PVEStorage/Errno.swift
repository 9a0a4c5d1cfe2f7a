/// An error number from a failed system call, with the text Perl shows as `$!`.
///
/// The live system (SwiftPluginSystem) makes them from `errno` with the C library's
/// text; the core names the few it tests for or raises itself. Their numbers are
/// Linux's (the only system PVE runs on); a test holds them and their texts to glibc.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    /// The C library's message, e.g. "No such file or directory".
    public let description: String

    public init(rawValue: Int32, description: String) {
        self.rawValue = rawValue
        self.description = description
    }

    /// Errors are the same error when their numbers are.
    public static func == (lhs: Errno, rhs: Errno) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    public static let operationNotPermitted = Errno(rawValue: 1, description: "Operation not permitted")
    public static let noSuchFileOrDirectory = Errno(rawValue: 2, description: "No such file or directory")
    public static let noSuchProcess = Errno(rawValue: 3, description: "No such process")
    public static let interrupted = Errno(rawValue: 4, description: "Interrupted system call")
    public static let ioError = Errno(rawValue: 5, description: "Input/output error")
    public static let wouldBlock = Errno(rawValue: 11, description: "Resource temporarily unavailable")
    public static let permissionDenied = Errno(rawValue: 13, description: "Permission denied")
    public static let fileExists = Errno(rawValue: 17, description: "File exists")
    public static let crossDevice = Errno(rawValue: 18, description: "Invalid cross-device link")
    public static let notDirectory = Errno(rawValue: 20, description: "Not a directory")
    public static let isDirectory = Errno(rawValue: 21, description: "Is a directory")
    public static let invalidArgument = Errno(rawValue: 22, description: "Invalid argument")
    public static let notTypewriter = Errno(rawValue: 25, description: "Inappropriate ioctl for device")
    public static let noSpace = Errno(rawValue: 28, description: "No space left on device")
    public static let readOnlyFileSystem = Errno(rawValue: 30, description: "Read-only file system")
    public static let tooManyLinks = Errno(rawValue: 31, description: "Too many links")
    public static let notImplemented = Errno(rawValue: 38, description: "Function not implemented")
    public static let tooManySymlinks = Errno(rawValue: 40, description: "Too many levels of symbolic links")
    public static let notSupported = Errno(rawValue: 95, description: "Operation not supported")
    public static let timedOut = Errno(rawValue: 110, description: "Connection timed out")

    /// Every named error, for the test that holds them to the C library.
    public static let named: [Errno] = [
        operationNotPermitted, noSuchFileOrDirectory, noSuchProcess, interrupted, ioError, wouldBlock,
        permissionDenied, fileExists, crossDevice, notDirectory, isDirectory, invalidArgument, notTypewriter,
        noSpace, readOnlyFileSystem, tooManyLinks, notImplemented, tooManySymlinks, notSupported, timedOut,
    ]
}
