import Foundation
import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
import SwiftPluginSystem

/// The tests that fork (LiveSystem.probe). A child of a threaded process may block on a
/// lock another thread held at the fork, and keeps every descriptor open until it
/// exits: `make test-swift` runs these alone, serially, after the parallel run of the
/// others (`--skip ForkingTests`). PVE's daemons are single-threaded.
@Suite("ForkingTests", .serialized)
struct ForkingTests {
    @Test("the live probe runs in a child and returns its numbers")
    func liveProbe() throws {
        #expect(LiveSystem().probe(timeout: 2) { [7, -1, Int64.max] } == [7, -1, Int64.max])
        #expect(LiveSystem().probe(timeout: 2) { nil } == nil)
    }

    @Test("the live usage of a real directory, through the probe")
    func liveUsage() throws {
        let disk = TemporaryDirectory()
        let live = try #require(try DirectoryStorage(id: "s", config: StorageConfig(path: disk.path), system: LiveSystem()).usage())
        #expect(live.total > 0 && live.available <= live.total)
    }

    @Test("the live system's localtime_r and timelocal's way back round-trip in UTC")
    func liveEpochRoundTrip() throws {
        let time = LocalTime(year: 2020, month: 1, day: 1, hour: 12, minute: 18, second: 21)
        // In a child whose TZ is UTC: the test process's own TZ is never changed.
        let live = LiveSystem().probe(timeout: 10) {
            setenv("TZ", "UTC", 1)
            tzset()
            guard let epoch = try? time.epoch(in: LiveSystem()), let back = LiveSystem().localTime(at: 1_577_881_101) else { return nil }
            return [epoch, Int64(back.year), Int64(back.month), Int64(back.day), Int64(back.hour), Int64(back.minute), Int64(back.second)]
        }
        #expect(live == [1_577_881_101, 2020, 1, 1, 12, 18, 21])
    }

    /// The arithmetic against glibc in UTC, in a child process: its TZ is its own, so
    /// no other test's time zone changes.
    @Test("UTC by arithmetic agrees with glibc's localtime, and timelocal's way back with it")
    func utcAgreesWithGlibc() throws {
        let epochs: [Int64] = [0, -1, 951_782_400, 4_107_542_400, -2_203_891_200, 1_577_881_101, -12_345_678_901, 99_999_999_999]
        let answers = LiveSystem().probe(timeout: 10) {
            setenv("TZ", "UTC", 1)
            tzset()
            let live = LiveSystem()
            return epochs.flatMap { epoch -> [Int64] in
                guard let time = live.localTime(at: epoch) else { return [Int64.min] }
                return [time.year, time.month, time.day, time.hour, time.minute, time.second].map(Int64.init)
                    + [(try? time.epoch(in: live)) ?? Int64.min]
            }
        }
        let expected = epochs.flatMap { epoch -> [Int64] in
            let time = UTC.localTime(at: epoch)!
            return [time.year, time.month, time.day, time.hour, time.minute, time.second].map(Int64.init) + [epoch]
        }
        #expect(answers == expected)
    }
}
