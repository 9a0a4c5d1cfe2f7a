import CSwiftPlugin
import Testing
import DirectoryBackend
import PVEStorage
import PVEStoragePerl
import PVEStorageTesting
@testable import SwiftPlugin

@Suite("Perl values read and made in place (the one hop), through the glue's accessors")
struct PerlValueTests {
    static let values: [Value] = [
        .undef, .int(-42), .int(Int64.max), .double(1.5), .string("ab"), .bytes([0x61, 0xff]), .text("é☺"),
        .array([.undef, .int(1), ["k": .text("v")]]), .hash([:]), .array([]),
        ["scfg": ["path": "/p", "content": ["images": 1, "iso": 1]], "list": [.string("a"), .bytes([0xfe])]],
    ]

    @Test("a Perl value reads as the value it holds, and a result written into one holds the result")
    func roundTrip() throws {
        let perl = InMemoryPerl()
        for value in Self.values {
            let (read, written) = try perl.withTable { table in
                (try PerlValue(perl.make(value), in: table).value(), perl.value(value.perlValue(PerlBuilder(table))))
            }
            #expect(read == value)
            #expect(written == value)
        }
    }

    @Test("an entry point reads its arguments by position and writes its result")
    func entryPoint() {
        let perl = InMemoryPerl()
        let scfg: Value = ["path": "/srv/a", "content": ["iso": 1]]
        let subdir = perl.call(spve_v1_get_subdir, className: "PVE::Storage::Custom::SwiftPlugin", arguments: [scfg, "iso"])
        #expect(subdir.result == Value.string("/srv/a/template/iso"))
        #expect(subdir.sections == Value.undef)
        #expect(subdir.error == nil)

        // A character string comes back as one (parse_volname), and a list is an array.
        let parsed = perl.call(spve_v1_parse_volname, className: "PVE::Storage::Custom::SwiftPlugin",
                               arguments: [.text("iso/é.iso")])
        #expect(parsed.result == Value.array([.text("iso"), .text("é.iso"), .undef, .undef, .undef, .undef, .text("raw")]))
    }

    @Test("a refusal is the call's error, with the method's message")
    func refusal() {
        let perl = InMemoryPerl()
        let failed = perl.call(spve_v1_get_subdir, className: "PVE::Storage::Custom::SwiftPlugin",
                               arguments: [["path": "/srv/a"], "nonsense"])
        #expect(failed.error?.code == -1)
        #expect(failed.error?.message == "unknown vtype 'nonsense'")
        #expect(failed.result == Value.undef)

        let notHash = perl.call(spve_v1_get_subdir, className: "PVE::Storage::Custom::SwiftPlugin", arguments: ["x", "iso"])
        #expect(notHash.error?.message == "storage configuration is not a hash")
    }

    @Test("the storage configuration read in place agrees with the one read whole")
    func configuration() throws {
        let perl = InMemoryPerl()
        let scfg: Value = ["path": "/p", "type": "swift", "content": ["images": 1, "bogus": 1, "iso": 0],
                           "content-dirs": ["iso": "isos"], "format": "qcow2", "ignored": ["deep": [1, 2]]]
        let inPlace = try perl.withTable { table in try StorageConfig.decode(from: PerlValue(perl.make(scfg), in: table)) }
        #expect(inPlace == (try StorageConfig(perl: scfg)))
        #expect(inPlace.content == [.images, .iso] && inPlace.unrecognized.content == "bogus")
    }

    @Test("get_subdir's location, looked up by key, agrees with the whole configuration's")
    func location() throws {
        let perl = InMemoryPerl()
        let cases: [Value] = [
            ["path": "/p", "content-dirs": ["iso": "isos", "bogus": "x", "backup": ["not": "a string"]], "type": "swift"],
            ["path": "0"], ["path": ""], ["path": 0], ["path": .text("/é")], ["path": .bytes([0x2F, 0xFF])],
            ["path": ["a"]], ["content-dirs": "no hash"], [:],
            ["path": "/p", "content-dirs": [:]], ["path": "/p", "content-dirs": ["images": 7, "iso": .bytes([0x69, 0xFF])]],
        ]
        for scfg in cases {
            let location = try perl.withTable { try StorageLocation.decode(from: PerlValue(perl.make(scfg), in: $0)) }
            #expect(location == (try StorageConfig(perl: scfg)).location, "\(scfg)")
        }
        #expect(try perl.withTable { try StorageLocation.decode(from: PerlValue(perl.make(["path": "/p"]), in: $0)) }
            == StorageLocation(path: "/p"))
        // The members that name a content type, read in place; others are not read.
        let directories = try perl.withTable {
            try StorageLocation.decode(from: PerlValue(perl.make(["path": "/p", "content-dirs": ["iso": "isos", "images": 7, "bogus": "b",
                                                                                                 "backup": ["no": "string"]]]), in: $0))
        }
        #expect(directories.contentDirectories == [.iso: "isos", .images: "7"])
        #expect(try perl.withTable { try StorageConfig.decode(from: PerlValue(perl.make(["path": "/p", "content-dirs": ["iso": "isos"]]), in: $0)) }
            .location.contentDirectories == [.iso: "isos"])
        #expect(throws: StorageError(ArgumentFailure.configurationNotAHash)) {
            try perl.withTable { try StorageLocation.decode(from: PerlValue(perl.make("x"), in: $0)) }
        }
    }
}
