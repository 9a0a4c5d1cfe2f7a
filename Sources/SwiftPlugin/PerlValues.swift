import DirectoryBackend
import PVEStorage
import PVEStoragePerl

/// The Perl shapes of the storage's typed results: what each plugin method returns
/// to PVE, built only here, at the boundary.

extension VolumeName {
    /// The list `parse_volname` returns: (vtype, name, vmid, basename, basevmid, isBase, format).
    public var perlList: [Value] {
        [.string(vtype.rawValue), .string(name), .optional(vmid), .optional(baseName), .optional(baseVMID),
         isBase ? "base-" : .undef, format == .none ? .undef : .string(format.description)]
    }
}

extension ImageMetadata {
    /// `file_size_info`'s list in list context: (size, format, used, parent, ctime).
    public var perlList: [Value] {
        [virtualSize.map(Value.int) ?? .undef, .optional(format?.rawValue), allocatedSize.map(Value.int) ?? .undef,
         .optional(backingFile), .int(changeTime)]
    }
}

extension ImageInfo: PerlRepresentable {
    /// The `list_images` item: `parent` is always present (undef when none), `ctime` only when non-zero.
    public func perlValue(_ builder: PerlBuilder) -> OpaquePointer? {
        builder.hash { item in store(into: item, builder) }
    }

    /// Its members, written into `item` (a `list_volumes` item adds `content`).
    func store(into item: PerlHashWriter, _ builder: PerlBuilder) {
        item.store("volid", builder.string(volid))
        item.store("format", builder.string(format?.rawValue ?? "invalid"))
        item.store("size", builder.integer(size))
        item.store("vmid", builder.string(vmid))
        item.store("used", builder.integer(used))
        item.store("parent", parent.map { builder.string($0) } ?? builder.undef())
        if changeTime != 0 { item.store("ctime", builder.integer(changeTime)) }
    }
}

extension DecodedText {
    /// Characters reach Perl as a character string, undecodable bytes as a byte string.
    public var perlValue: Value {
        switch self {
        case .characters(let text): return .text(text)
        case .bytes(let bytes): return .bytes(bytes)
        }
    }

    /// The bytes dir writes for a Perl value (`encode('UTF-8', $notes)`): a character
    /// string as UTF-8; a byte string's bytes each as the character of that code point
    /// (as Perl does); nil for undef.
    public static func utf8Bytes(of value: Value) -> [UInt8]? {
        switch value {
        case .undef: return nil
        case .text(let text): return Array(text.utf8)
        case .string(let text): return latin1ToUTF8(Array(text.utf8))
        case .bytes(let bytes): return latin1ToUTF8(bytes)
        case .array, .hash: return Array(value.printable.utf8)
        default: return Array((value.string ?? "").utf8)
        }
    }

    private static func latin1ToUTF8(_ bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        for byte in bytes {
            if byte < 0x80 {
                result.append(byte)
            } else {
                result.append(0xC0 | (byte >> 6))
                result.append(0x80 | (byte & 0x3F))
            }
        }
        return result
    }
}

extension ContentItem: PerlRepresentable {
    /// The `list_volumes` item of a content file, written straight into a Perl hash:
    /// listings build thousands of these.
    public func perlValue(_ builder: PerlBuilder) -> OpaquePointer? {
        builder.hash { item in
            item.store("volid", builder.string(volid))
            item.store("format", builder.string(format))
            item.store("size", builder.integer(size))
            item.store("ctime", builder.integer(ctime))
            item.store("content", builder.string(content.rawValue))
            if let subtype { item.store("subtype", builder.string(subtype)) }
            if let vmid { item.store("vmid", builder.string(vmid)) }
            if let notes { item.store("notes", notes.perlValue.perlValue(builder)) }
            if isProtected { item.store("protected", builder.integer(1)) }
        }
    }
}

extension ListedVolume: PerlRepresentable {
    public func perlValue(_ builder: PerlBuilder) -> OpaquePointer? {
        switch self {
        case .image(let image, let content):
            return builder.hash { item in
                image.store(into: item, builder)
                item.store("content", builder.string(content.rawValue))
            }
        case .file(let item):
            return item.perlValue(builder)
        }
    }
}

extension PruneEntry {
    public var perlValue: Value {
        var members: [String: Value] = [
            "volid": .string(volid), "type": .string(type), "ctime": .int(ctime),
            "mark": mark.map { .string($0.rawValue) } ?? .undef,
        ]
        switch vmid {
        case .number(let number)?: members["vmid"] = .int(number)
        case .name(let name)?: members["vmid"] = .string(name)
        case nil: break
        }
        return .hash(members)
    }
}

extension BlockdevOptions {
    public var perlValue: Value {
        ["driver": .string(driver.rawValue), "filename": .string(filename)]
    }
}

/// The answer of `get_import_metadata`, built from what PVE's OVF parser found
/// (`{qm => {...}, disks => [{disk_address, virtual_size, relative_path}], net => {...}}`).
/// The parser's `qm` and `net` hashes go back to PVE as they came: they are PVE's data.
public struct ImportMetadata: Sendable {
    public var storeid: String
    public var volname: String
    public var isOVA: Bool
    public var ovf: Value

    public var perlValue: Value {
        var warnings: [Value] = []
        if isOVA { warnings.append(["type": "ova-needs-extracting"]) }
        var disks: [String: Value] = [:]
        for disk in ovf["disks"].array ?? [] {
            guard let id = disk["disk_address"].string else { continue }
            let member = disk["relative_path"].string ?? ""
            let volid = isOVA ? "\(storeid):\(volname)/\(member)" : "\(storeid):import/\(member)"
            var entry: [String: Value] = ["volid": .string(volid)]
            if disk["virtual_size"].isDefined { entry["size"] = disk["virtual_size"] }
            disks[id] = .hash(entry)
        }
        if ovf["qm"]["bios"].string == "ovmf" {
            disks["efidisk0"] = 1
            warnings.append(["type": "efi-state-lost", "key": "bios", "value": "ovmf"])
        }
        return [
            "type": "vm", "source": .string(volname), "create-args": ovf["qm"], "disks": .hash(disks),
            "warnings": .array(warnings), "net": ovf["net"],
        ]
    }
}
