import PVEStorage

/// A stable identity for a storage directory (`get_identity`, API 14): a random UUID
/// kept in the directory itself, so the same directory configured twice, or seen by
/// several nodes of a cluster through a shared mount, reports the same identity.
extension DirectoryStorage {
    /// The file holding the identity, directly in the storage path.
    public static let identityFileName = ".swiftplugin-identity"

    /// The storage's identity, created on first use. Concurrent first uses agree: the
    /// file is published with a rename that never replaces, and the loser reads the winner's.
    public func identity() throws(StorageError) -> String {
        let file = try basePath() + "/" + Self.identityFileName
        if let existing = try readIdentity(file) { return existing }
        let identity = try Self.newUUID(system)
        do {
            try system.writeFileAtomically(file, contents: Array((identity + "\n").utf8), mode: 0o644, replacing: false)
            // Where the file system has no atomic no-replace rename, a concurrent first use
            // may have published after us: the file says which identity won.
            return (try? readIdentity(file)).flatMap { $0 } ?? identity
        } catch {
            switch error {
            case .publishing(.fileExists):
                break  // Another node or process was first: its identity is the storage's.
            case .writing(let error), .publishing(let error):
                throw StorageError(StorageIdentityFailure.notCreated(file: file, error))
            }
        }
        guard let stored = try readIdentity(file) else { throw StorageError(StorageIdentityFailure.unreadable(file: file, nil)) }
        return stored
    }

    private func readIdentity(_ file: String) throws(StorageError) -> String? {
        let contents: [UInt8]
        do { contents = try system.readFile(file) } catch {
            if error == .noSuchFileOrDirectory { return nil }
            throw StorageError(StorageIdentityFailure.unreadable(file: file, error))
        }
        let text = String(decoding: contents, as: UTF8.self)
        let identity = text.hasSuffix("\n") ? String(text.dropLast()) : text
        guard Self.isUUID(identity) else { throw StorageError(StorageIdentityFailure.invalid(file: file)) }
        return identity
    }

    /// A version 4 (random) UUID in its canonical lower-case form.
    static func newUUID(_ system: any SystemCalls) throws(StorageError) -> String {
        var bytes: [UInt8]
        do { bytes = try system.readBytes("/dev/urandom", offset: 0, count: 16) } catch {
            throw StorageError(StorageIdentityFailure.randomUnreadable(error))
        }
        guard bytes.count == 16 else { throw StorageError(StorageIdentityFailure.randomUnreadable(nil)) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = bytes.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }
        return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-")
    }

    static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        return bytes.indices.allSatisfy { index in
            [8, 13, 18, 23].contains(index) ? bytes[index] == UInt8(ascii: "-")
                : (0x30...0x39).contains(bytes[index]) || (0x61...0x66).contains(bytes[index])
        }
    }
}
