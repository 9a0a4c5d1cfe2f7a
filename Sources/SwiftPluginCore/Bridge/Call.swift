/// One call of a plugin method: what the glue passed besides the method's typed
/// arguments, and what the method reports besides its result (warnings for Perl's
/// `warn`, lines for standard output, entries for the method's log function, values
/// for its push argument).
public final class Call {
    public let system: any SystemCalls
    /// Warnings for Perl's `warn`, shared with the storage the call works on.
    public let diagnostics = Diagnostics()
    public var warnings: [String] { diagnostics.warnings }
    public var output: [String] { diagnostics.output }
    public private(set) var logEntries: [(level: String, message: String)] = []
    public private(set) var pushed: [Value] = []

    /// The Perl class the method was called on (for messages naming it).
    public internal(set) var className = "PVE::Storage::Custom::SwiftPlugin"
    /// The host's storage API version (PVE::Storage::APIVER), where the host's releases
    /// differ (PVE 8: 10 and 11); nil when the glue did not pass it.
    public internal(set) var hostAPIVersion: Int?
    /// The release whose `dir` the call follows: PVE 9 unless the host says otherwise.
    public var host: HostRelease { hostAPIVersion.map(HostRelease.init(apiVersion:)) ?? .pve9 }
    /// The string arguments that arrived as Perl character strings (UTF-8 flag on).
    public internal(set) var characterArguments: Set<String> = []

    public init(system: any SystemCalls) {
        self.system = system
    }

    /// The storage a call is about.
    public func storage(_ id: String, _ config: StorageConfig) -> DirectoryStorage {
        var storage = DirectoryStorage(id: id, config: config, system: system)
        storage.diagnostics = diagnostics
        storage.host = host
        return storage
    }

    /// `text` as a string of the same kind as the argument `name`: derived from a
    /// Perl character string, it is returned as one (as Perl's own string operations do).
    public func string(_ text: String, like name: String) -> Value {
        characterArguments.contains(name) ? .text(text) : .string(text)
    }

    public func warn(_ line: String) { diagnostics.warn(line) }
    public func print(_ line: String) { diagnostics.print(line) }
    /// An entry for the method's log function (e.g. prune's `$logfunc->($level, $message)`).
    public func log(_ level: String, _ message: String) { logEntries.append((level, message)) }
    /// A value for the method's push argument (e.g. the blockers of a rollback).
    public func push(_ value: Value) { pushed.append(value) }

    /// A member of the request that is not one of the method's arguments: the class,
    /// or something the method does not read.
    public func takeCommon(_ key: RequestReader.Key, from request: inout RequestReader) throws(StorageError) {
        if key == "class" {
            if let name = try request.value().string { className = name }
        } else if key == "apiver" {
            if case .int(let version) = try request.value() { hostAPIVersion = Int(exactly: version) }
        } else {
            try request.skip()
        }
    }

    /// The reply of include/swiftplugin.h: `result`, then the sections that have entries.
    public func reply(_ result: Value) -> Reply {
        var sections: [(tag: UInt8, value: Value)] = []
        if !warnings.isEmpty { sections.append((UInt8(ascii: "W"), .array(warnings.map(Value.string)))) }
        if !output.isEmpty { sections.append((UInt8(ascii: "O"), .array(output.map(Value.string)))) }
        if !logEntries.isEmpty {
            sections.append((UInt8(ascii: "L"), .array(logEntries.map { [.string($0.level), .string($0.message)] })))
        }
        if !pushed.isEmpty { sections.append((UInt8(ascii: "P"), .array(pushed))) }
        return Reply(result: result, sections: sections)
    }
}

/// A reply ready to be written where the caller wants it (the ABI writes it into
/// memory of its own, which the glue frees).
public struct Reply {
    public let result: Value
    public let sections: [(tag: UInt8, value: Value)]

    public var size: Int { ValueCoding.replySize(result, sections: sections) }

    /// Writes the reply into `buffer` (at least ``size`` bytes); returns the bytes written.
    public func write(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        ValueCoding.writeReply(result, sections: sections, into: buffer)
    }

    public var bytes: [UInt8] { ValueCoding.encodeReply(result, sections: sections) }
}

/// The typed arguments of one plugin method, decoded from the glue's request
/// (generated from perl/methods.txt into Arguments.swift).
public protocol PluginArguments {
    /// The Perl name of the method.
    static var method: String { get }
    init(from request: inout RequestReader, call: Call) throws(StorageError)
}
