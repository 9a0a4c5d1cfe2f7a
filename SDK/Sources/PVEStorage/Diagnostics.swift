/// Warnings and output lines collected while a plugin method runs; the glue emits the
/// warnings with Perl's `warn` and prints the output lines (as `dir` prints progress).
/// A reference type so that the storage and the call report into one list.
public final class Diagnostics: @unchecked Sendable {
    public private(set) var warnings: [String] = []
    public private(set) var output: [String] = []
    public init() {}
    public func warn(_ line: String) { warnings.append(line) }
    public func print(_ line: String) { output.append(line) }

    /// How many warnings and output lines there were at some point.
    public struct Mark {
        public var warnings: Int
        public var output: Int
    }

    public var mark: Mark { Mark(warnings: warnings.count, output: output.count) }

    public func rewrite(since mark: Mark, _ transform: (String) -> String) {
        for index in warnings.indices where index >= mark.warnings { warnings[index] = transform(warnings[index]) }
        for index in output.indices where index >= mark.output { output[index] = transform(output[index]) }
    }
}
