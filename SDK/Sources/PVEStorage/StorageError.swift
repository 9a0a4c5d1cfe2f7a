/// A failure that reaches Perl as `die "<message>\n"`.
///
/// Messages follow PVE's style and, where PVE's `dir` storage has one for the
/// same failure, its exact wording: one line, no trailing newline (the glue adds it).
public struct StorageError: Error, Equatable, CustomStringConvertible {
    /// What failed, for the error code of the C ABI.
    public enum Kind: Equatable, Sendable {
        /// The method refused or failed (the message says why).
        case failed
        /// The call's arguments could not be read: a bug of the glue, never of the caller.
        case badRequest
    }

    public var message: String
    public var kind: Kind
    /// The errno of the failed system call, if one caused this; Perl gets it as `$!`.
    public var errno: Errno?

    public init(_ message: String, errno: Errno? = nil, kind: Kind = .failed) {
        self.message = message
        self.errno = errno
        self.kind = kind
    }

    public var description: String { message }
}
