/// A failure that reaches Perl as `die "<message>\n"`.
///
/// Messages follow PVE's style and, where PVE's `dir` storage has one for the
/// same failure, its exact wording: one line, no trailing newline (the glue adds it).
public struct StorageError: Error, Equatable, CustomStringConvertible {
    public var message: String
    /// The errno of the failed system call, if one caused this.
    public var errno: Errno?

    public init(_ message: String, errno: Errno? = nil) {
        self.message = message
        self.errno = errno
    }

    public var description: String { message }
}
