/// XXH64 (Yann Collet's xxHash, 64-bit), fed in pieces: the checksum of a replication
/// stream. It detects a stream that was cut, reordered or damaged on its way; it is no
/// signature (ssh protects the transfer).
public struct XXHash64: Sendable {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    private let seed: UInt64
    private var lanes: (UInt64, UInt64, UInt64, UInt64)
    /// Bytes not yet forming a whole 32-byte stripe.
    private var pending: [UInt8] = []
    private var total: UInt64 = 0

    public init(seed: UInt64 = 0) {
        self.seed = seed
        lanes = (seed &+ Self.prime1 &+ Self.prime2, seed &+ Self.prime2, seed, seed &- Self.prime1)
        pending.reserveCapacity(32)
    }

    @inline(__always) private static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
        let mixed = accumulator &+ input &* prime2
        return ((mixed << 31) | (mixed >> 33)) &* prime1
    }

    @inline(__always) private static func merge(_ accumulator: UInt64, _ lane: UInt64) -> UInt64 {
        (accumulator ^ round(0, lane)) &* prime1 &+ prime4
    }

    @inline(__always) private static func word(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        total &+= UInt64(bytes.count)
        var index = 0
        if !pending.isEmpty {
            let taken = min(32 - pending.count, bytes.count)
            pending.append(contentsOf: bytes[0..<taken])
            index = taken
            guard pending.count == 32 else { return }
            pending.withUnsafeBytes { consumeStripes($0, count: 32) }
            pending.removeAll(keepingCapacity: true)
        }
        let stripes = (bytes.count - index) / 32 * 32
        if stripes > 0 {
            consumeStripes(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + stripes)]), count: stripes)
            index += stripes
        }
        pending.append(contentsOf: bytes[index...])
    }

    private mutating func consumeStripes(_ bytes: UnsafeRawBufferPointer, count: Int) {
        var (v1, v2, v3, v4) = lanes
        var offset = 0
        while offset < count {
            v1 = Self.round(v1, Self.word(bytes, offset))
            v2 = Self.round(v2, Self.word(bytes, offset + 8))
            v3 = Self.round(v3, Self.word(bytes, offset + 16))
            v4 = Self.round(v4, Self.word(bytes, offset + 24))
            offset += 32
        }
        lanes = (v1, v2, v3, v4)
    }

    /// The hash of everything fed so far (more may be fed after).
    public func finalize() -> UInt64 {
        var hash: UInt64
        if total >= 32 {
            let (v1, v2, v3, v4) = lanes
            hash = ((v1 << 1) | (v1 >> 63)) &+ ((v2 << 7) | (v2 >> 57)) &+ ((v3 << 12) | (v3 >> 52)) &+ ((v4 << 18) | (v4 >> 46))
            hash = Self.merge(hash, v1)
            hash = Self.merge(hash, v2)
            hash = Self.merge(hash, v3)
            hash = Self.merge(hash, v4)
        } else {
            hash = seed &+ Self.prime5
        }
        hash &+= total
        pending.withUnsafeBytes { rest in
            var offset = 0
            while offset + 8 <= rest.count {
                hash ^= Self.round(0, Self.word(rest, offset))
                hash = ((hash << 27) | (hash >> 37)) &* Self.prime1 &+ Self.prime4
                offset += 8
            }
            if offset + 4 <= rest.count {
                hash ^= UInt64(UInt32(littleEndian: rest.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) &* Self.prime1
                hash = ((hash << 23) | (hash >> 41)) &* Self.prime2 &+ Self.prime3
                offset += 4
            }
            while offset < rest.count {
                hash ^= UInt64(rest[offset]) &* Self.prime5
                hash = ((hash << 11) | (hash >> 53)) &* Self.prime1
                offset += 1
            }
        }
        hash ^= hash >> 33
        hash &*= Self.prime2
        hash ^= hash >> 29
        hash &*= Self.prime3
        hash ^= hash >> 32
        return hash
    }
}
