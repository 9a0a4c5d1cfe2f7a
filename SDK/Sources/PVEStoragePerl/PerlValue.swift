import CPVEStorageSDK
import PVEStorage

/// A Perl value the glue passed, read in place through the glue's accessors
/// (spve_sdk.h): the one hop from Perl to typed Swift. Valid for the duration of the
/// call; reading it runs no Perl code (the glue resolved every magic beforehand).
public struct PerlValue {
    @usableFromInline let perl: UnsafePointer<spve_perl>
    @usableFromInline let sv: OpaquePointer?

    @inlinable
    public init(_ sv: OpaquePointer?, in perl: UnsafePointer<spve_perl>) {
        self.perl = perl
        self.sv = sv
    }

    /// What the value is; a reference to a scalar reads as the scalar.
    @inlinable
    public var kind: spve_kind { perl.pointee.kind(perl, sv) }

    @inlinable
    public var isHash: Bool { kind == SPVE_KIND_HASH }

    /// Perl's `defined`.
    @inlinable
    public var isDefined: Bool { kind != SPVE_KIND_UNDEF }

    /// The bytes of a string (borrowed from Perl for the duration of the call).
    @inlinable
    public var bytes: UnsafeRawBufferPointer {
        var length = 0
        let start = perl.pointee.bytes(perl, sv, &length)
        return UnsafeRawBufferPointer(start: start, count: length)
    }

    /// The members of a hash, in Perl's order: `while let (key, value) = members.next()`.
    @inlinable
    public var members: Members {
        perl.pointee.begin(perl, sv)
        return Members(hash: self)
    }

    public struct Members: IteratorProtocol {
        @usableFromInline let hash: PerlValue

        @inlinable
        init(hash: PerlValue) {
            self.hash = hash
        }

        @inlinable
        public mutating func next() -> (key: PerlKey, value: PerlValue)? {
            var key: UnsafePointer<UInt8>?
            var length = 0
            guard let member = hash.perl.pointee.next(hash.perl, hash.sv, &key, &length) else { return nil }
            return (PerlKey(bytes: UnsafeRawBufferPointer(start: key, count: length)), PerlValue(member, in: hash.perl))
        }
    }

    /// The member `key` of a hash (undef when absent or when this is no hash): one
    /// lookup, without walking the hash.
    @inlinable
    public func member(_ key: StaticString) -> PerlValue {
        key.withUTF8Buffer { PerlValue(perl.pointee.fetch(perl, sv, $0.baseAddress!, $0.count), in: perl) }
    }

    /// The value as Perl stringifies a scalar; nil for undef, references and bytes that
    /// are not UTF-8.
    public var string: String? {
        switch kind {
        case SPVE_KIND_BYTES, SPVE_KIND_TEXT: return PerlText.string(bytes)
        case SPVE_KIND_INTEGER, SPVE_KIND_NUMBER: return (try? value())?.string
        default: return nil
        }
    }

    /// The whole value, as the plugin's methods read structured arguments. A character
    /// string that is not UTF-8 (which only a broken XS module makes) is refused.
    public func value() throws(StorageError) -> Value {
        try value(depth: 0)
    }

    /// Deeper nesting than this is refused; the glue refuses it before the call.
    static let maximumDepth = 64

    private func value(depth: Int) throws(StorageError) -> Value {
        guard depth <= Self.maximumDepth else { throw Self.malformed("nesting too deep") }
        switch kind {
        case SPVE_KIND_INTEGER:
            return .int(perl.pointee.integer(perl, sv))
        case SPVE_KIND_NUMBER:
            return .double(perl.pointee.number(perl, sv))
        case SPVE_KIND_BYTES:
            let raw = bytes
            if let text = PerlText.string(raw) { return .string(text) }
            return .bytes(Array(raw))
        case SPVE_KIND_TEXT:
            guard let text = PerlText.string(bytes) else { throw Self.malformed("character string is not valid UTF-8") }
            return .text(text)
        case SPVE_KIND_ARRAY:
            let count = perl.pointee.count(perl, sv)
            var elements: [Value] = []
            elements.reserveCapacity(count)
            for index in 0..<count {
                elements.append(try PerlValue(perl.pointee.element(perl, sv, index), in: perl).value(depth: depth + 1))
            }
            return .array(elements)
        case SPVE_KIND_HASH:
            var members: [String: Value] = [:]
            members.reserveCapacity(perl.pointee.count(perl, sv))
            var iterator = self.members
            while let (key, member) = iterator.next() { members[key.string] = try member.value(depth: depth + 1) }
            return .hash(members)
        default:
            return .undef
        }
    }

    public static func malformed(_ reason: String) -> StorageError {
        StorageError(ArgumentFailure.malformed(reason: reason), kind: .badRequest)
    }
}

/// A member name of a Perl hash, as the bytes it is (borrowed for the duration of the call).
public struct PerlKey {
    public let bytes: UnsafeRawBufferPointer

    @inlinable
    public init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    @inlinable
    public static func == (key: PerlKey, name: StaticString) -> Bool {
        guard key.bytes.count == name.utf8CodeUnitCount else { return false }
        return name.withUTF8Buffer { name in
            for index in 0..<name.count where key.bytes[index] != name[index] { return false }
            return true
        }
    }

    @inlinable
    public static func == (key: PerlKey, name: [UInt8]) -> Bool {
        guard key.bytes.count == name.count else { return false }
        for index in 0..<name.count where key.bytes[index] != name[index] { return false }
        return true
    }

    /// The name as a String, invalid UTF-8 replaced (PVE's keys are ASCII).
    public var string: String { String(decoding: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self) }
}

/// Perl's strings as Swift's.
public enum PerlText {
    /// The bytes as a String when they are valid UTF-8; ASCII, the usual case, is
    /// taken without validating it byte by byte through the generic path.
    public static func string(_ raw: UnsafeRawBufferPointer) -> String? {
        let bytes = raw.assumingMemoryBound(to: UInt8.self)
        if isASCII(raw) { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes, as: UTF8.self)
    }

    static func isASCII(_ raw: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = raw.count
        while index + 8 <= count {
            if raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            index += 8
        }
        while index < count {
            if raw[index] >= 0x80 { return false }
            index += 1
        }
        return true
    }
}

/// The arguments of one call: [0] the class, then the method's arguments in Perl's order.
public struct PerlArguments {
    @usableFromInline let call: UnsafeMutablePointer<spve_v1_call>

    @inlinable
    public init(_ call: UnsafeMutablePointer<spve_v1_call>) {
        self.call = call
    }

    @inlinable
    public var count: Int { call.pointee.count }

    /// The argument at `position` (undef beyond the last).
    @inlinable
    public subscript(position: Int) -> PerlValue {
        let sv = position < count ? call.pointee.arguments[position] : nil
        return PerlValue(sv, in: call.pointee.perl)
    }

    /// The argument at `position`, whole.
    public func value(_ position: Int) throws(StorageError) -> Value {
        try self[position].value()
    }

    /// The arguments from `position` on, as an array (a `rest` argument).
    public func rest(from position: Int) throws(StorageError) -> Value {
        var elements: [Value] = []
        for index in position..<Swift.max(position, count) { elements.append(try value(index)) }
        return .array(elements)
    }
}

/// Makes new Perl values through the glue's builders (each mortal: Perl frees what
/// the library abandons).
public struct PerlBuilder {
    @usableFromInline let perl: UnsafePointer<spve_perl>

    @inlinable
    public init(_ perl: UnsafePointer<spve_perl>) {
        self.perl = perl
    }

    @inlinable
    public func undef() -> OpaquePointer { perl.pointee.new_undef(perl) }
    @inlinable
    public func integer(_ number: Int64) -> OpaquePointer { perl.pointee.new_integer(perl, number) }
    @inlinable
    public func number(_ number: Double) -> OpaquePointer { perl.pointee.new_number(perl, number) }

    /// A byte string, or with `text` a character string (UTF-8 flag on).
    @inlinable
    public func string(_ text: String, text isText: Bool = false) -> OpaquePointer {
        var text = text
        return text.withUTF8 { bytes($0, text: isText) }
    }

    @inlinable
    public func bytes(_ bytes: UnsafeBufferPointer<UInt8>, text: Bool = false) -> OpaquePointer {
        perl.pointee.new_string(perl, bytes.baseAddress, bytes.count, text ? 1 : 0)
    }

    /// A reference to a new array of `elements`.
    @inlinable
    public func array<Elements: Collection>(_ elements: Elements, _ element: (Elements.Element) -> OpaquePointer?)
        -> OpaquePointer
    {
        let array = perl.pointee.new_array(perl, elements.count)
        for item in elements { perl.pointee.push(perl, array, element(item)) }
        return array
    }

    /// A reference to a new hash of `members`.
    @inlinable
    public func hash<Members: Sequence>(_ members: Members, _ member: (Members.Element) -> (key: String, value: OpaquePointer?))
        -> OpaquePointer
    {
        let hash = perl.pointee.new_hash(perl)
        for item in members {
            var (key, value) = member(item)
            key.withUTF8 { perl.pointee.store(perl, hash, $0.baseAddress, $0.count, value) }
        }
        return hash
    }
}

extension PerlBuilder {
    /// A reference to a new hash, whose members `body` stores: results with known keys
    /// (listing items) are written without an intermediate dictionary.
    @inlinable
    public func hash(_ body: (PerlHashWriter) -> Void) -> OpaquePointer {
        let hash = perl.pointee.new_hash(perl)
        body(PerlHashWriter(perl: perl, hash: hash))
        return hash
    }
}

/// Stores the members of a new hash (``PerlBuilder/hash(_:)``).
public struct PerlHashWriter {
    @usableFromInline let perl: UnsafePointer<spve_perl>
    @usableFromInline let hash: OpaquePointer

    @inlinable
    init(perl: UnsafePointer<spve_perl>, hash: OpaquePointer) {
        self.perl = perl
        self.hash = hash
    }

    @inlinable
    public func store(_ key: StaticString, _ value: OpaquePointer?) {
        key.withUTF8Buffer { perl.pointee.store(perl, hash, $0.baseAddress, $0.count, value) }
    }

    /// A member whose name is not known at compile time.
    public func store(named key: String, _ value: OpaquePointer?) {
        var key = key
        key.withUTF8 { perl.pointee.store(perl, hash, $0.baseAddress, $0.count, value) }
    }
}

/// A result a plugin method returns to Perl, written straight into a Perl value.
public protocol PerlRepresentable {
    func perlValue(_ builder: PerlBuilder) -> OpaquePointer?
}

extension Value: PerlRepresentable {
    public func perlValue(_ builder: PerlBuilder) -> OpaquePointer? {
        switch self {
        case .undef: return builder.undef()
        case .int(let number): return builder.integer(number)
        case .double(let number): return builder.number(number)
        case .string(let text): return builder.string(text)
        case .bytes(let raw): return raw.withUnsafeBufferPointer { builder.bytes($0) }
        case .text(let text): return builder.string(text, text: true)
        case .array(let elements): return builder.array(elements) { $0.perlValue(builder) }
        case .hash(let members): return builder.hash(members) { ($0.key, $0.value.perlValue(builder)) }
        }
    }
}

/// A result PVE gets as a list: what a method of shape `list` or `context` (methods.txt)
/// returns. The generated entry points require it, so a method whose Swift result does
/// not match its declared shape does not compile.
public protocol PerlList: PerlRepresentable {}

extension Array: PerlRepresentable, PerlList where Element: PerlRepresentable {
    /// A reference to an array; for a `list` method, its elements are the list.
    @inlinable
    public func perlValue(_ builder: PerlBuilder) -> OpaquePointer? { builder.array(self) { $0.perlValue(builder) } }
}

extension String: PerlRepresentable {
    /// A byte string, as PVE's own paths and names are.
    @inlinable
    public func perlValue(_ builder: PerlBuilder) -> OpaquePointer? { builder.string(self) }
}
