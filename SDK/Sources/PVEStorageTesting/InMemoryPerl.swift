import CPVEStorageSDK
import PVEStorage
import PVEStoragePerl

/// The glue's accessors and builders (spve_sdk.h) over Swift values instead of a Perl
/// interpreter: what tests and fuzz targets call a plugin's methods through, exactly
/// as the glue would, without Perl. Not part of any plugin's library.
public final class InMemoryPerl {
    /// A Perl value: a scalar, or a reference to an array or a hash. Strings keep
    /// their bytes in memory of their own, as Perl's accessors lend them.
    final class Node {
        enum Content {
            case scalar(Value, bytes: UnsafeMutableBufferPointer<UInt8>?)
            case array([Node?])
            case hash([(key: UnsafeMutableBufferPointer<UInt8>, value: Node)])
        }

        var content: Content
        var iteration = 0

        init(_ content: Content) {
            self.content = content
        }

        deinit {
            switch content {
            case .scalar(_, let bytes): bytes?.deallocate()
            case .hash(let members): for member in members { member.key.deallocate() }
            case .array: break
            }
        }
    }

    private var nodes: [Node] = []
    private var table: spve_perl

    public init() {
        table = spve_perl(
            interpreter: nil,
            kind: { perl, sv in
                guard let node = InMemoryPerl.node(sv) else { return SPVE_KIND_UNDEF }
                switch node.content {
                case .scalar(let value, _):
                    switch value {
                    case .undef, .array, .hash: return SPVE_KIND_UNDEF
                    case .int: return SPVE_KIND_INTEGER
                    case .double: return SPVE_KIND_NUMBER
                    case .string, .bytes: return SPVE_KIND_BYTES
                    case .text: return SPVE_KIND_TEXT
                    }
                case .array: return SPVE_KIND_ARRAY
                case .hash: return SPVE_KIND_HASH
                }
            },
            integer: { _, sv in
                guard case .scalar(let value, _)? = InMemoryPerl.node(sv)?.content else { return 0 }
                return value.int ?? 0
            },
            number: { _, sv in
                guard case .scalar(let value, _)? = InMemoryPerl.node(sv)?.content else { return 0 }
                if case .double(let number) = value { return number }
                return Double(value.int ?? 0)
            },
            bytes: { _, sv, length in
                guard case .scalar(_, let bytes?)? = InMemoryPerl.node(sv)?.content else {
                    length.pointee = 0
                    return nil
                }
                length.pointee = bytes.count
                return UnsafePointer(bytes.baseAddress)
            },
            count: { _, sv in
                switch InMemoryPerl.node(sv)?.content {
                case .array(let elements)?: return elements.count
                case .hash(let members)?: return members.count
            default: return 0
                }
            },
            element: { _, sv, index in
                guard case .array(let elements)? = InMemoryPerl.node(sv)?.content, index < elements.count,
                      let element = elements[index] else { return nil }
                return InMemoryPerl.handle(element)
            },
            begin: { _, sv in InMemoryPerl.node(sv)?.iteration = 0 },
            next: { _, sv, key, length in
                guard let node = InMemoryPerl.node(sv), case .hash(let members) = node.content,
                      node.iteration < members.count else { return nil }
                let member = members[node.iteration]
                node.iteration += 1
                key.pointee = UnsafePointer(member.key.baseAddress)
                length.pointee = member.key.count
                return InMemoryPerl.handle(member.value)
            },
            fetch: { _, sv, key, length in
                guard case .hash(let members)? = InMemoryPerl.node(sv)?.content else { return nil }
                let name = UnsafeBufferPointer(start: key, count: length)
                guard let member = members.first(where: { $0.key.elementsEqual(name) }) else { return nil }
                return InMemoryPerl.handle(member.value)
            },
            new_undef: { perl in InMemoryPerl.perl(perl).made(.scalar(.undef, bytes: nil)) },
            new_integer: { perl, number in InMemoryPerl.perl(perl).made(.scalar(.int(number), bytes: nil)) },
            new_number: { perl, number in InMemoryPerl.perl(perl).made(.scalar(.double(number), bytes: nil)) },
            new_string: { perl, bytes, length, text in
                let raw = Array(UnsafeBufferPointer(start: bytes, count: length))
                let value: Value = text != 0 ? .text(String(decoding: raw, as: UTF8.self))
                    : String(validating: raw, as: UTF8.self).map(Value.string) ?? .bytes(raw)
                return InMemoryPerl.perl(perl).made(.scalar(value, bytes: InMemoryPerl.copy(raw)))
            },
            new_array: { perl, _ in InMemoryPerl.perl(perl).made(.array([])) },
            push: { _, array, element in
                guard let node = InMemoryPerl.node(array), case .array(var elements) = node.content else { return }
                elements.append(InMemoryPerl.node(element))
                node.content = .array(elements)
            },
            new_hash: { perl in InMemoryPerl.perl(perl).made(.hash([])) },
            store: { _, hash, key, length, value in
                guard let node = InMemoryPerl.node(hash), case .hash(var members) = node.content, let value = InMemoryPerl.node(value)
                else { return }
                let name = Array(UnsafeBufferPointer(start: key, count: length))
                members.removeAll { Array($0.key) == name }
                members.append((InMemoryPerl.copy(name), value))
                node.content = .hash(members)
            }
        )
        table.interpreter = Unmanaged.passUnretained(self).toOpaque()
    }

    /// A Perl value holding `value` (undef for nil), alive as long as this object.
    public func make(_ value: Value?) -> OpaquePointer? {
        guard let value else { return nil }
        return Self.handle(node(value))
    }

    /// The Swift value of a Perl value made here (by ``make(_:)`` or a builder).
    public func value(_ sv: OpaquePointer?) -> Value {
        guard let node = Self.node(sv) else { return .undef }
        return value(node)
    }

    /// Calls a plugin's entry point as the glue would: `arguments` after the class, by
    /// position (nil where the caller passes none). Returns the result and the sections
    /// (spve_sdk.h) as Swift values, and the error's code and message.
    public func call(_ entry: (UnsafeMutablePointer<spve_v1_call>) -> Void, className: String,
                     arguments: [Value?], apiVersion: Int64 = 0)
        -> (result: Value, sections: Value, error: (code: Int32, message: String)?)
    {
        withCall(className: className, arguments: arguments, apiVersion: apiVersion) { call in
            entry(call)
            var error: (Int32, String)?
            if call.pointee.error.code != SPVE_ERROR_NONE {
                error = (call.pointee.error.code, call.pointee.error.message.map { String(cString: $0) } ?? "")
                release(call.pointee.error.message)
            }
            return (value(call.pointee.result), value(call.pointee.sections), error)
        }
    }

    /// Runs `body` with a call as the glue makes it: the class, then `arguments` by position.
    public func withCall<Result, Failure: Error>(
        className: String, arguments: [Value?], apiVersion: Int64 = 0,
        _ body: (UnsafeMutablePointer<spve_v1_call>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let handles = [make(.string(className))] + arguments.map(make)
        let outcome: Swift.Result<Result, Failure> = withUnsafePointer(to: &table) { perl in
            handles.withUnsafeBufferPointer { list in
                var call = spve_v1_call(perl: perl, arguments: list.baseAddress.unsafelyUnwrapped, count: list.count,
                                        apiver: apiVersion, result: nil, sections: nil,
                                        error: spve_v1_error(code: 0, message: nil))
                do throws(Failure) { return .success(try body(&call)) } catch { return .failure(error) }
            }
        }
        return try outcome.get()
    }

    /// What a result becomes in Perl, as a Swift value.
    public func value(of result: some PerlRepresentable) -> Value {
        value(withTable { result.perlValue(PerlBuilder($0)) })
    }

    /// Runs `body` with this Perl's accessors, for reading values made here directly.
    public func withTable<Result>(_ body: (UnsafePointer<spve_perl>) throws -> Result) rethrows -> Result {
        try withUnsafePointer(to: &table) { try body($0) }
    }

    private func node(_ value: Value) -> Node {
        let node: Node
        switch value {
        case .array(let elements): node = Node(.array(elements.map { self.node($0) }))
        case .hash(let members):
            node = Node(.hash(members.map { (key: Self.copy(Array($0.key.utf8)), value: self.node($0.value)) }))
        case .string(let text), .text(let text): node = Node(.scalar(value, bytes: Self.copy(Array(text.utf8))))
        case .bytes(let raw): node = Node(.scalar(value, bytes: Self.copy(raw)))
        default: node = Node(.scalar(value, bytes: nil))
        }
        nodes.append(node)
        return node
    }

    private func value(_ node: Node) -> Value {
        switch node.content {
        case .scalar(let value, _): return value
        case .array(let elements): return .array(elements.map { $0.map(value) ?? .undef })
        case .hash(let members):
            return .hash(Dictionary(members.map { (String(decoding: $0.key, as: UTF8.self), value($0.value)) },
                                    uniquingKeysWith: { _, last in last }))
        }
    }

    private func made(_ content: Node.Content) -> OpaquePointer {
        let node = Node(content)
        nodes.append(node)
        return Self.handle(node)
    }

    private static func perl(_ table: UnsafePointer<spve_perl>) -> InMemoryPerl {
        // Only this class makes tables with this interpreter.
        Unmanaged<InMemoryPerl>.fromOpaque(UnsafeRawPointer(table.pointee.interpreter.unsafelyUnwrapped)).takeUnretainedValue()
    }

    private static func node(_ sv: OpaquePointer?) -> Node? {
        sv.map { Unmanaged<Node>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }

    private static func handle(_ node: Node) -> OpaquePointer {
        OpaquePointer(Unmanaged.passUnretained(node).toOpaque())
    }

    private static func copy(_ bytes: [UInt8]) -> UnsafeMutableBufferPointer<UInt8> {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Swift.max(bytes.count, 1))
        _ = buffer.initialize(from: bytes)
        return UnsafeMutableBufferPointer(rebasing: buffer[0..<bytes.count])
    }
}
