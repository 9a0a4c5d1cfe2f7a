import Testing
@testable import DirectoryBackend
import PVEStorage
@testable import PVEStoragePerl
@testable import SwiftPlugin
@testable import PVEStorageTesting

@Suite("The byte encoding of values (fuzz inputs)")
struct ValueCodingTests {
    @Test("every kind of value survives a round trip")
    func roundTrip() throws {
        let original: Value = .hash([
            "undef": .undef, "int": .int(-42), "big": .int(Int64.max), "double": .double(1.5),
            "bytes": .string("vm-100-disk-0.raw"), "text": .text("Notizen ☺"), "raw": .bytes([0xff, 0xfe]),
            "list": [1, "two", .array([])], "nested": ["content": ["images": 1]],
        ])
        #expect(try ValueCoding.decode(ValueCoding.encode(original)) == original)
    }

    @Test("the wire format is the one include/swiftplugin.h documents")
    func wireFormat() {
        #expect(ValueCoding.encode(.int(1)) == [0x49, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(ValueCoding.encode(.string("ab")) == [0x53, 2, 0, 0, 0, 0x61, 0x62])
        #expect(ValueCoding.encode(.text("é")) == [0x54, 2, 0, 0, 0, 0xc3, 0xa9])
        #expect(ValueCoding.encode(["k": .undef]) == [0x48, 1, 0, 0, 0, 1, 0, 0, 0, 0x6b, 0x55])
    }

    @Test("malformed input is an error, never a trap", arguments: [
        ([], "truncated value"),
        ([0x58], "unknown value tag 88"),
        ([0x49, 1, 2], "truncated number"),
        ([0x53, 0xff, 0xff, 0xff, 0x7f, 0x61], "length exceeds input"),
        ([0x41, 0xff, 0xff, 0xff, 0xff], "length exceeds input"),
        ([0x48, 1, 0, 0, 0, 9, 0, 0, 0, 0x61], "length exceeds input"),
        ([0x54, 1, 0, 0, 0, 0xff], "character string is not valid UTF-8"),
        ([0x55, 0x55], "trailing bytes after value"),
    ] as [([UInt8], String)])
    func malformed(bytes: [UInt8], message: String) {
        #expect(throws: ValueCoding.DecodingError(description: message)) { try ValueCoding.decode(bytes) }
    }

    @Test("nesting is bounded")
    func nesting() {
        let deep: [UInt8] = Array(repeating: [0x41, 1, 0, 0, 0] as [UInt8], count: 100).flatMap { $0 } + [0x55]
        #expect(throws: ValueCoding.DecodingError(description: "nesting too deep")) { try ValueCoding.decode(deep) }
    }

    @Test("a byte string that is not UTF-8 is kept as bytes")
    func invalidUTF8() throws {
        #expect(try ValueCoding.decode([0x53, 1, 0, 0, 0, 0xe9]) == .bytes([0xe9]))
    }

    @Test("Perl truth and string conversions")
    func perlSemantics() {
        #expect(!Value.string("0").isTrue && !Value.string("").isTrue && !Value.undef.isTrue && !Value.int(0).isTrue)
        #expect(Value.string("00").isTrue && Value.string("a").isTrue && Value.int(-1).isTrue && Value.hash([:]).isTrue)
        #expect(Value.int(7).string == "7" && Value.double(2).string == "2" && Value.string("12").int == 12)
        #expect(Value.undef.string == nil && Value.bytes([0xff]).string == nil)
        #expect(Value.bytes([0x61, 0xff, 0xe2, 0x98, 0xba, 0xc3]).printable == "a\\xff☺\\xc3")
    }

    @Test("the size pass and the write pass agree for every kind of value")
    func replySize() {
        let values: [Value] = [.undef, .int(-1), .double(0.5), .string("ab"), .bytes([0xff, 0]), .text("é"),
                               .array([.undef, ["k": .array([.int(1), .text("☺")])]]), .hash([:]), .array([])]
        for value in values {
            #expect(ValueCoding.encode(value).count == ValueCoding.size(of: value))
        }
        let sections: [(tag: UInt8, value: Value)] = [(UInt8(ascii: "W"), ["w"]), (UInt8(ascii: "P"), [.int(2)])]
        #expect(ValueCoding.encodeReply(.undef, sections: sections).count == ValueCoding.replySize(.undef, sections: sections))
    }
}
