import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

/// The message a throwing call fails with, or nil when it succeeds.
func failure<T>(_ body: () throws -> T) -> String? {
    do {
        _ = try body()
        return nil
    } catch let error as StorageError {
        return error.message
    } catch let error as ImageInspectionError {
        return error.description
    } catch {
        return "unexpected error: \(error)"
    }
}

/// A fresh temporary directory, removed when the test's scope ends.
final class TemporaryDirectory {
    let path: String

    init() {
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("swiftplugin-test-XXXXXX").path
        var buffer = Array(template.utf8CString)
        path = buffer.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func create(_ relative: String, directory: Bool = false) {
        let full = path + "/" + relative
        if directory {
            try? FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        } else {
            try? FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: full, contents: Data())
        }
    }

    func isDirectory(_ relative: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path + "/" + relative, isDirectory: &directory) && directory.boolValue
    }
}

/// A system (the live one unless given) with selected calls replaced: the fault-injection seam.
struct ScriptedSystem: ForwardingSystem {
    var base: any SystemCalls = LiveSystem()
    var makeDirectoryError: (@Sendable (String) -> Errno?)? = nil
    var usage: FileSystemUsage? = nil
    var mounts: String? = nil
    /// Simulates a hung mount: probes time out.
    var probesHang = false
    var writeError: (@Sendable (String) -> Errno?)? = nil
    var commandResult: (@Sendable (Command) -> CommandResult)? = nil
    var removeFileError: (@Sendable (String) -> Errno?)? = nil
    var readError: (@Sendable (String) -> Errno?)? = nil
    var immutableError: Errno? = nil
    var renameError: (@Sendable (String) -> Errno?)? = nil
    /// Simulates a file system without reflinks (ext4, tmpfs) or with them (a copy).
    var cloneError: Errno? = nil

    func status(_ path: String, followSymlinks: Bool) throws(Errno) -> FileStatus {
        try base.status(path, followSymlinks: followSymlinks)
    }
    func makeDirectory(_ path: String, mode: UInt32) throws(Errno) {
        if let error = makeDirectoryError?(path) { throw error }
        try base.makeDirectory(path, mode: mode)
    }
    func realPath(_ path: String) throws(Errno) -> String { try base.realPath(path) }
    func fileSystemUsage(_ path: String) throws(Errno) -> FileSystemUsage {
        if let usage { return usage }
        return try base.fileSystemUsage(path)
    }
    func readFile(_ path: String) throws(Errno) -> [UInt8] {
        if path == "/proc/mounts", let mounts { return Array(mounts.utf8) }
        return try base.readFile(path)
    }
    func probe(timeout seconds: Int, _ body: () -> [Int64]?) -> [Int64]? {
        probesHang ? nil : body()
    }
    func listDirectory(_ path: String) throws(Errno) -> [DirectoryEntry] { try base.listDirectory(path) }
    func readBytes(_ path: String, offset: Int64, count: Int) throws(Errno) -> [UInt8] {
        if let error = readError?(path) { throw error }
        return try base.readBytes(path, offset: offset, count: count)
    }
    func writeFile(_ path: String, contents: [UInt8], mode: UInt32, exclusive: Bool, applyingUmask: Bool) throws(Errno) {
        if let error = writeError?(path) { throw error }
        try base.writeFile(path, contents: contents, mode: mode, exclusive: exclusive, applyingUmask: applyingUmask)
    }
    func rename(_ source: String, to target: String, replacing: Bool) throws(Errno) {
        if let error = renameError?(target) { throw error }
        try base.rename(source, to: target, replacing: replacing)
    }
    func removeFile(_ path: String) throws(Errno) {
        if let error = removeFileError?(path) { throw error }
        try base.removeFile(path)
    }
    func removeDirectory(_ path: String) throws(Errno) { try base.removeDirectory(path) }
    func removeTree(_ path: String) throws(Errno) { try base.removeTree(path) }
    func setMode(_ path: String, _ mode: UInt32) throws(Errno) { try base.setMode(path, mode) }
    func setImmutable(_ path: String, _ immutable: Bool) throws(Errno) {
        if let immutableError { throw immutableError }
        try base.setImmutable(path, immutable)
    }
    func run(_ command: Command) throws(Errno) -> CommandResult {
        if let commandResult { return commandResult(command) }
        return try base.run(command)
    }
    func cloneFile(_ source: String, into target: String) throws(Errno) {
        if let cloneError { throw cloneError }
        try base.cloneFile(source, into: target)
    }
    func link(_ source: String, to target: String) throws(Errno) { try base.link(source, to: target) }
}

/// The project's own fixtures (Tests/Fixtures): the spec data the tests run. A missing or
/// unreadable fixture is an error, never an empty list.
enum Fixture {
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// The repository's Tests/Fixtures directory, found from this file's location.
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The decoded JSON of a fixture file.
    static func json(_ name: String) throws -> Any {
        let url = directory.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw Missing(description: "fixture \(url.path) is missing")
        }
        return try JSONSerialization.jsonObject(with: data)
    }

    /// The vectors of Tests/Fixtures/test-vectors.json, or why they could not be read.
    static let sharedVectors: Result<[SharedVector], Error> = Result {
        guard let root = try json("test-vectors.json") as? [String: Any],
              let vectors = root["vectors"] as? [[String: Any]], !vectors.isEmpty
        else { throw Missing(description: "test-vectors.json has no vectors") }
        return vectors.map { vector in
            let expect = vector["expect"] as? [String: Any] ?? [:]
            return SharedVector(suite: vector["suite"] as? String ?? "?", id: vector["id"] as? String ?? "?",
                                input: value(fromJSON: vector["input"]),
                                expected: expect["ok"].map { value(fromJSON: $0) }, message: expect["die"] as? String)
        }
    }
}

/// One case of Tests/Fixtures/test-vectors.json (derived from pve-storage's own tests): input,
/// and the expected value or message.
struct SharedVector: Sendable, CustomTestStringConvertible {
    var suite: String
    var id: String
    var input: Value
    var expected: Value?
    var message: String?
    var testDescription: String { id }

    /// The vectors of one suite; empty when the fixture cannot be read, which fails
    /// ``requireFixture()`` and the suites' count tests.
    static func suite(_ name: String) -> [SharedVector] {
        ((try? Fixture.sharedVectors.get()) ?? []).filter { $0.suite == name }
    }

    /// Fails the calling test, with the reason, when the fixture could not be read.
    static func requireFixture() throws {
        _ = try Fixture.sharedVectors.get()
    }
}

/// A JSON value as the Perl glue would pass it.
func value(fromJSON object: Any?) -> Value {
    switch object {
    case nil, is NSNull: return .undef
    case let text as String: return .string(text)
    case let number as NSNumber: return .int(number.int64Value)
    case let list as [Any]: return .array(list.map(value(fromJSON:)))
    case let members as [String: Any]: return .hash(members.mapValues(value(fromJSON:)))
    default: return .undef
    }
}
