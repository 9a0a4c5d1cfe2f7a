/// A failure of a plugin method as a typed value: what went wrong and with what
/// (names, paths, the errno), not yet words.
///
/// A backend declares its failures as types, usually an enum per domain, and throws
/// them wrapped in ``StorageError``. Its `description` is the one place that words a
/// failure, in PVE's style and, where PVE's `dir` storage has a message for the same
/// failure, its exact wording: one line, no trailing newline (the glue adds it). The
/// SDK renders it only at the boundary, when the failure reaches Perl as `die`.
///
/// ```swift
/// enum ShelfFailure: StorageFailure {
///     case missing(volname: String)
///     case unreadable(path: String, Errno)
///
///     var errno: Errno? { if case .unreadable(_, let errno) = self { errno } else { nil } }
///     var description: String {
///         switch self {
///         case .missing(let volname): "volume '\(volname)' does not exist"
///         case .unreadable(let path, let errno): "unable to read '\(path)' - \(errno)"
///         }
///     }
/// }
///
/// throw StorageError(ShelfFailure.missing(volname: volname))
/// ```
public protocol StorageFailure: Error, Hashable, CustomStringConvertible {
    /// The errno of the failed system call, if one caused this; Perl gets it as `$!`.
    var errno: Errno? { get }
}

extension StorageFailure {
    public var errno: Errno? { nil }
    /// The failure as a value to compare with any other failure.
    var hashable: AnyHashable { AnyHashable(self) }
}

/// What a plugin method throws: a ``StorageFailure`` on its way to Perl, where it
/// becomes `die "<message>\n"`, with `$!` set from its errno (a `failed` one; a
/// `badRequest` reports the glue's own error code).
///
/// Code that reacts to a failure asks for its type (``failure(as:)``), never for its
/// words.
public struct StorageError: Error, Hashable, CustomStringConvertible {
    /// How the C ABI reports the failure.
    public enum Kind: Hashable, Sendable {
        /// The method refused or failed (the message says why).
        case failed
        /// The call's arguments could not be read: a bug of the glue, never of the caller.
        case badRequest
    }

    /// What failed.
    public let failure: any StorageFailure
    public var kind: Kind

    public init(_ failure: some StorageFailure, kind: Kind = .failed) {
        self.failure = failure
        self.kind = kind
    }

    /// A failure that is only its words: a one-off refusal with nothing to tell apart
    /// (see ``Refusal``).
    public init(_ message: String, errno: Errno? = nil, kind: Kind = .failed) {
        self.init(Refusal(message, errno: errno), kind: kind)
    }

    /// The failure as `type`, or nil when it is another one.
    public func failure<Failure: StorageFailure>(as type: Failure.Type) -> Failure? {
        failure as? Failure
    }

    /// The errno of the failed system call, if one caused this.
    public var errno: Errno? { failure.errno }
    /// PVE's words for the failure: what Perl's `die` gets.
    public var message: String { failure.description }
    public var description: String { message }

    /// Errors are equal when their kinds are and their failures are the same value.
    public static func == (lhs: StorageError, rhs: StorageError) -> Bool {
        lhs.kind == rhs.kind && lhs.identity == rhs.identity
    }

    private var identity: AnyHashable { failure.hashable }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(identity)
    }
}

/// A failure that is only its words (and the errno, if a system call caused it), for
/// refusals PVE words once and nothing tells apart (`missing snapname`). A failure
/// with names or paths in its words, or one that code reacts to, deserves a type of
/// its own.
public struct Refusal: StorageFailure {
    public let message: String
    public let errno: Errno?

    public init(_ message: String, errno: Errno? = nil) {
        self.message = message
        self.errno = errno
    }

    public var description: String { message }
}

/// A failure reading a method's arguments or the storage configuration, the SDK's
/// own: a Perl value of a kind the argument cannot be (a reference for a name, bytes
/// that are not UTF-8), named after the argument.
public enum ArgumentFailure: StorageFailure {
    /// A string argument whose bytes are not UTF-8 (`shown` escapes them).
    case notUTF8(argument: String, shown: String)
    /// A reference where a string belongs.
    case notString(argument: String)
    case notArray(argument: String)
    case notFileHandle(argument: String)
    /// A `$scfg` that is no hash reference.
    case configurationNotAHash
    /// What the glue passed does not have the shape its method declares: the glue's bug.
    case malformed(reason: String)

    public var description: String {
        switch self {
        case .notUTF8(let argument, let shown): "invalid \(argument) '\(shown)' - not valid UTF-8"
        case .notString(let argument): "invalid \(argument) - not a string"
        case .notArray(let argument): "\(argument) is not an array"
        case .notFileHandle(let argument): "\(argument) is not a file handle"
        case .configurationNotAHash: "storage configuration is not a hash"
        case .malformed(let reason): "internal error: malformed arguments - \(reason)"
        }
    }
}
