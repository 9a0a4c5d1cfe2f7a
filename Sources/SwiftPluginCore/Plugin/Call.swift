/// One call of a plugin method: its named arguments, and what it reports besides
/// its result (warnings for Perl's `warn`, lines for standard output, entries for
/// the method's log function, values for its push argument).
public final class Call {
    public let arguments: [String: Value]
    public let system: any SystemCalls
    /// Warnings for Perl's `warn`, shared with the storage the call works on.
    public let diagnostics = Diagnostics()
    public var warnings: [String] { diagnostics.warnings }
    public private(set) var output: [String] = []
    public private(set) var logEntries: [(level: String, message: String)] = []
    public private(set) var pushed: [Value] = []

    public init(arguments: [String: Value], system: any SystemCalls = LiveSystem()) {
        self.arguments = arguments
        self.system = system
    }

    public convenience init(_ arguments: KeyValuePairs<String, Value>, system: any SystemCalls = LiveSystem()) {
        self.init(arguments: Dictionary(arguments.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }), system: system)
    }

    public subscript(name: String) -> Value { arguments[name] ?? .undef }

    /// The Perl class the method was called on (for messages naming it).
    public var className: String { self["class"].string ?? "PVE::Storage::Custom::SwiftPlugin" }

    /// A string argument as Perl reads it: undef is the empty string. Bytes that
    /// are not UTF-8 are refused: no volume or path of this storage has them.
    public func string(_ name: String) throws(StorageError) -> String {
        switch self[name] {
        case .undef:
            return ""
        case .bytes:
            throw StorageError("invalid \(name) '\(self[name].printable)' - not valid UTF-8")
        case let value:
            guard let text = value.string else { throw StorageError("invalid \(name) - not a string") }
            return text
        }
    }

    /// `text` as a string of the same kind as the argument `name`: derived from a
    /// Perl character string, it is returned as one (as Perl's own string operations do).
    public func string(_ text: String, like name: String) -> Value {
        if case .text = self[name] { return .text(text) }
        return .string(text)
    }

    /// Test-only metadata overrides (see ``MetadataOverrides``); nil in production.
    public var overrides: MetadataOverrides? { MetadataOverrides(self["test_metadata"]) }

    /// The storage the call is about, from its `storeid` and `scfg` arguments.
    public func storage() throws(StorageError) -> DirectoryStorage {
        var storage = DirectoryStorage(id: self["storeid"].string ?? "", config: try StorageConfig(self["scfg"]), system: system)
        if let overrides {
            storage.system = OverridingSystem(base: system, overrides: overrides)
            storage.overrides = overrides
        }
        storage.diagnostics = diagnostics
        return storage
    }

    public func warn(_ line: String) { diagnostics.warn(line) }
    public func print(_ line: String) { output.append(line) }
    /// An entry for the method's log function (e.g. prune's `$logfunc->($level, $message)`).
    public func log(_ level: String, _ message: String) { logEntries.append((level, message)) }
    /// A value for the method's push argument (e.g. the blockers of a rollback).
    public func push(_ value: Value) { pushed.append(value) }

    /// The reply of include/swiftplugin.h: `result`, then the sections that have entries.
    public func reply(_ result: Value) -> [UInt8] {
        var sections: [(UInt8, Value)] = []
        if !warnings.isEmpty { sections.append((UInt8(ascii: "W"), .array(warnings.map(Value.string)))) }
        if !output.isEmpty { sections.append((UInt8(ascii: "O"), .array(output.map(Value.string)))) }
        if !logEntries.isEmpty {
            sections.append((UInt8(ascii: "L"), .array(logEntries.map { [.string($0.level), .string($0.message)] })))
        }
        if !pushed.isEmpty { sections.append((UInt8(ascii: "P"), .array(pushed))) }
        return ValueCoding.encodeReply(result, sections: sections)
    }
}
