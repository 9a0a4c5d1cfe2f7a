/// Reads the request of one plugin call (include/swiftplugin.h, "Value encoding")
/// where it lies, one argument at a time, for the generated argument decoders.
///
/// Only the arguments and configuration keys a method reads are decoded; everything
/// else is skipped without building values. The input is untrusted: every length is
/// checked against the remaining bytes and nesting is bounded.
public struct RequestReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// A member name of a hash in the request, as the bytes it arrived as.
    public struct Key {
        let bytes: UnsafeRawBufferPointer

        public static func == (key: Key, name: StaticString) -> Bool {
            guard key.bytes.count == name.utf8CodeUnitCount else { return false }
            return name.withUTF8Buffer { name in
                for index in 0..<name.count where key.bytes[index] != name[index] { return false }
                return true
            }
        }

        public static func == (key: Key, name: [UInt8]) -> Bool {
            guard key.bytes.count == name.count else { return false }
            for index in 0..<name.count where key.bytes[index] != name[index] { return false }
            return true
        }

        public var string: String { ValueCoding.lossyString(bytes) }
    }

    /// Starts reading the request hash; returns its number of members.
    public mutating func beginRequest() throws(StorageError) -> Int {
        guard try tag() == UInt8(ascii: "H") else { throw Self.malformed("request is not a hash") }
        return try length()
    }

    /// The name of the next member of the hash being read.
    public mutating func key() throws(StorageError) -> Key {
        Key(bytes: try data())
    }

    /// Ends the request: nothing may follow it.
    public func end() throws(StorageError) {
        guard offset == bytes.count else { throw Self.malformed("trailing bytes after value") }
    }

    /// The next value, decoded whole.
    public mutating func value() throws(StorageError) -> Value {
        do {
            var reader = ValueCoding.Reader(bytes: bytes, offset: offset)
            let value = try reader.value(depth: 0)
            offset = reader.offset
            return value
        } catch {
            throw Self.malformed(error.description)
        }
    }

    /// Passes over the next value without decoding it.
    public mutating func skip() throws(StorageError) {
        do {
            var reader = ValueCoding.Reader(bytes: bytes, offset: offset)
            try reader.skip(depth: 0)
            offset = reader.offset
        } catch {
            throw Self.malformed(error.description)
        }
    }

    /// The storage configuration (`$scfg`): only the keys ``StorageConfig`` holds are
    /// decoded. Anything but a hash is refused as PVE's own code would fail on it.
    public mutating func storageConfig() throws(StorageError) -> StorageConfig {
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: "H") else {
            return try StorageConfig(perl: try value())
        }
        offset += 1
        var config = StorageConfig()
        for _ in 0..<(try length()) {
            let key = try key()
            if let option = StorageConfig.Option(key) {
                if option == .content, offset < bytes.count, bytes[offset] == UInt8(ascii: "H") {
                    let (types, unknown) = try contentTypes()
                    config.content = types
                    config.unrecognized.content = unknown
                } else {
                    config.set(option, try value())
                }
            } else {
                try skip()
            }
        }
        return config
    }

    /// The content types the member names of the next value (a hash) name, sorted, and
    /// the least name that names none; its values are skipped. No string is built for
    /// a known name: every call with a `$scfg` decodes its content list.
    private mutating func contentTypes() throws(StorageError) -> (types: [ContentType], unknown: String?) {
        _ = try tag()
        var named: UInt32 = 0 // bit i: ContentType.sorted[i]
        var unknown: String?
        for _ in 0..<(try length()) {
            let key = try key()
            if let index = Self.contentTypeNames.firstIndex(where: { key == $0 }) {
                named |= 1 << index
            } else {
                let name = key.string
                if unknown.map({ Grammar.perlPrecedes(name, $0) }) ?? true { unknown = name }
            }
            try skip()
        }
        var types: [ContentType] = []
        for (index, type) in ContentType.sorted.enumerated() where named & (1 << index) != 0 { types.append(type) }
        return (types, unknown)
    }

    /// The names of ``ContentType/sorted`` as bytes.
    private static let contentTypeNames = ContentType.sorted.map { Array($0.rawValue.utf8) }

    private mutating func tag() throws(StorageError) -> UInt8 {
        guard offset < bytes.count else { throw Self.malformed("truncated value") }
        defer { offset += 1 }
        return bytes[offset]
    }

    private mutating func length() throws(StorageError) -> Int {
        do {
            var reader = ValueCoding.Reader(bytes: bytes, offset: offset)
            let count = try reader.length()
            offset = reader.offset
            return count
        } catch {
            throw Self.malformed(error.description)
        }
    }

    private mutating func data() throws(StorageError) -> UnsafeRawBufferPointer {
        do {
            var reader = ValueCoding.Reader(bytes: bytes, offset: offset)
            let data = try reader.data()
            offset = reader.offset
            return data
        } catch {
            throw Self.malformed(error.description)
        }
    }

    static func malformed(_ reason: String) -> StorageError {
        StorageError("internal error: malformed request - \(reason)", kind: .badRequest)
    }
}
