import PVEStorage

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
        public let bytes: UnsafeRawBufferPointer

        public init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

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
        guard nextIsHash else { throw Self.malformed("request is not a hash") }
        return try beginHash()
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

    /// Whether the next value is a hash (for decoders with a fast path for one).
    public var nextIsHash: Bool { offset < bytes.count && bytes[offset] == UInt8(ascii: "H") }

    /// Starts reading a hash member by member; returns its number of members. Each
    /// member is then a ``key()`` followed by its value (``value()`` or ``skip()``).
    public mutating func beginHash() throws(StorageError) -> Int {
        guard try tag() == UInt8(ascii: "H") else { throw Self.malformed("value is not a hash") }
        return try length()
    }

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

    public static func malformed(_ reason: String) -> StorageError {
        StorageError("internal error: malformed request - \(reason)", kind: .badRequest)
    }
}
