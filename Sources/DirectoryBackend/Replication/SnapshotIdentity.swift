/// What tells two copies of a reflink snapshot apart: an id given when the snapshot is
/// taken (random, so a snapshot taken again under the same name has another) and
/// carried to the replica, and the time it was taken (`volume_snapshot_info`'s `id`
/// and `timestamp`, which PVE's replication compares to find a common base).
///
/// Kept in the snapshot file's extended attribute `user.pve-swift.snapshot` as
/// `1 <id> <timestamp>`. A snapshot without it (taken by an older version, or on a file
/// system without user attributes) is identified by its inode and modification time:
/// stable while the file is there, but never equal to another node's.
public struct SnapshotIdentity: Equatable, Sendable {
    public var id: String
    /// Seconds since the epoch.
    public var timestamp: Int64

    public init(id: String, timestamp: Int64) {
        self.id = id
        self.timestamp = timestamp
    }

    public static let attribute = "user.pve-swift.snapshot"

    /// A fresh identity: 128 random bits, in hex.
    public static func new(at timestamp: Int64) -> SnapshotIdentity {
        var generator = SystemRandomNumberGenerator()
        let words = [generator.next(), generator.next()] as [UInt64]
        let id = words.map { word in
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
        return SnapshotIdentity(id: id, timestamp: timestamp)
    }

    /// An id of 1 to 64 characters out of letters, digits, `.`, `-` and `_`.
    public static func isValidID(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= ReplicationStream.maximumIDLength else { return false }
        return bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }

    /// The attribute's value.
    public var encoded: [UInt8] { Array("1 \(id) \(timestamp)".utf8) }

    /// The identity an attribute value holds; nil unless it is exactly version 1's form.
    public init?(encoded bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let fields = text.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0] == "1", Self.isValidID(String(fields[1])),
              let timestamp = Int64(fields[2]), String(timestamp) == fields[2] else { return nil }
        self.init(id: String(fields[1]), timestamp: timestamp)
    }

    /// The identity of a snapshot file without the attribute.
    public static func fallback(for status: FileStatus) -> SnapshotIdentity {
        SnapshotIdentity(id: "ino\(status.inode)-\(status.modificationTime)", timestamp: status.modificationTime)
    }
}
