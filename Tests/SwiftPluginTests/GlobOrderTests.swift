import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin

@Suite("the order of Perl's glob")
struct GlobOrderTests {
    /// The definition, one byte at a time: folded bytes as signed chars, then strcmp.
    static func reference(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        let fold = { (bytes: [UInt8]) in bytes.map { Int8(bitPattern: PerlString.lowercase($0)) } + [0] }
        let (a, b) = (fold(left), fold(right))
        if a != b { return a.lexicographicallyPrecedes(b) }
        return left.lexicographicallyPrecedes(right)
    }

    @Test("letters without case, high bytes before the end of a name, ties by strcmp")
    func examples() {
        #expect(GlobOrder.sorted(["b", "A", "a", "B", "ab", "a\u{e9}", "a-"]) == ["a\u{e9}", "A", "a", "a-", "ab", "B", "b"])
    }

    @Test("Perl's string order is by code point: no canonical equivalence")
    func perlStringOrder() {
        #expect(PerlString.precedes("a\u{30A}", "backup") && !("a\u{30A}" < "backup"))
        #expect(PerlString.precedes("backup", "images") && !PerlString.precedes("images", "backup"))
        #expect(!PerlString.precedes("iso", "iso"))
    }

    @Test("the eight-bytes-at-a-time comparison agrees with the definition")
    func agreesWithReference() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = Array("vzdump-qemu-10_.aAZz".utf8) + [0x80, 0xc3, 0xa9, 0xff, 0x7f]
        for _ in 0..<20_000 {
            let shared = (0..<Int.random(in: 0...20, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            let left = shared + (0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            let right = shared + (0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            #expect(GlobOrder.precedes(GlobOrder.key(left), GlobOrder.key(right)) == Self.reference(left, right),
                    "\(left) vs \(right)")
        }
    }
}
