/// Warnings and output lines collected while a plugin method runs; the glue emits the
/// warnings with Perl's `warn` and prints the output lines (as `dir` prints progress).
/// A reference type so that the storage and the call report into one list.
public final class Diagnostics: @unchecked Sendable {
    public private(set) var warnings: [String] = []
    public private(set) var output: [String] = []
    public init() {}
    public func warn(_ line: String) { warnings.append(line) }
    public func print(_ line: String) { output.append(line) }
}
