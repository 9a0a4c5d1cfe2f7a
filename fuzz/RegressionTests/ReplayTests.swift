import Foundation
import Testing
import FuzzTargets

/// An input saved under fuzz/: a regression (an input that once crashed a target) or a
/// corpus entry. Each is replayed through the same `FuzzTarget.run` the fuzzer calls.
struct SavedInput: Sendable, CustomTestStringConvertible {
    var target: FuzzTarget
    /// `<target>/<file>`
    var name: String
    var bytes: [UInt8]
    var testDescription: String { name }

    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    /// The files of fuzz/<folder>/<target>/ for every target (hidden files excepted).
    static func all(in folder: String) -> [SavedInput] {
        FuzzTarget.allCases.flatMap { target in
            let directory = fuzzDirectory.appendingPathComponent("\(folder)/\(target.rawValue)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            return names.filter { !$0.hasPrefix(".") }.sorted().compactMap { name in
                FileManager.default.contents(atPath: directory.appendingPathComponent(name).path).map {
                    SavedInput(target: target, name: "\(target.rawValue)/\(name)", bytes: Array($0))
                }
            }
        }
    }

    static let regressions = all(in: "regressions")

    /// fuzz/regressions/known-crashes: `<target>/<file>  <why>` for each regression whose
    /// defect is not fixed yet. Its test is a known issue; once the fix lands the known
    /// issue is no longer recorded, the test fails, and the line must be removed.
    static let knownCrashes: [String: String] = {
        let url = fuzzDirectory.appendingPathComponent("regressions/known-crashes")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [:] }
        var entries: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard let name = fields.first else { continue }
            entries[String(name)] = fields.count > 1 ? fields[1].trimmingCharacters(in: .whitespaces) : "known crash"
        }
        return entries
    }()
}

@Suite("fuzz inputs replay without a crash (fuzz/, FUZZING.md)")
struct ReplayTests {
    @Test("the saved inputs are in the repository")
    func present() {
        #expect(SavedInput.regressions.count >= 1, "no files under fuzz/regressions/<target>/")
        for target in FuzzTarget.allCases {
            #expect(SavedInput.all(in: "corpus").contains { $0.target == target }, "no corpus for \(target.rawValue)")
        }
        let names = Set(SavedInput.regressions.map(\.name))
        for known in SavedInput.knownCrashes.keys {
            #expect(names.contains(known), "fuzz/regressions/known-crashes names \(known), which is not a regression input")
        }
    }

    /// Each regression runs in a child process: a trap there fails this test, not the run.
    @Test("regression input", arguments: SavedInput.regressions)
    func regression(_ input: SavedInput) async {
        if let reason = SavedInput.knownCrashes[input.name] {
            await withKnownIssue(Comment(rawValue: "known crash, not fixed yet: \(reason)")) {
                await #expect(processExitsWith: .success) { [target = input.target as FuzzTarget, bytes = input.bytes as [UInt8]] in
                    target.run(bytes)
                }
            }
        } else {
            await #expect(processExitsWith: .success) { [target = input.target as FuzzTarget, bytes = input.bytes as [UInt8]] in
                target.run(bytes)
            }
        }
    }

    /// The corpus of each target, in one child process per target.
    @Test("corpus", arguments: FuzzTarget.allCases)
    func corpus(_ target: FuzzTarget) async {
        let inputs = SavedInput.all(in: "corpus").filter { $0.target == target }.map(\.bytes)
        #expect(!inputs.isEmpty)
        await #expect(processExitsWith: .success) { [target = target as FuzzTarget, inputs = inputs as [[UInt8]]] in
            for input in inputs { target.run(input) }
        }
    }
}
