/// The companion files of a backup archive (dir-layout.md §5.3): `<archive>.notes`
/// (the user's notes, UTF-8) and `<archive>.protected` (an empty marker).
///
/// Notes are read only from a regular file: a notes "file" that is a symlink is
/// ignored, so a planted link cannot expose a file from outside the storage.
public struct BackupSidecars: Sendable {
    public var system: any SystemCalls
    public var archivePath: String

    public init(system: any SystemCalls, archivePath: String) {
        self.system = system
        self.archivePath = archivePath
    }

    public var notesPath: String { archivePath + ".notes" }
    public var protectionPath: String { archivePath + ".protected" }

    private var notesFileExists: Bool {
        (try? system.status(notesPath, followSymlinks: false))?.kind == .regular
    }

    // MARK: Notes

    /// The whole notes, decoded as UTF-8 (bytes when invalid); `''` without a notes file.
    public func notes() throws(StorageError) -> DecodedText {
        guard notesFileExists else { return .characters("") }
        do {
            return DecodedText(try system.readFile(notesPath))
        } catch {
            throw StorageError("error opening '\(notesPath)': \(error)", errno: error)
        }
    }

    /// The first line of the notes (for listings), or nil when there is no notes file
    /// or it is empty.
    public func firstLineOfNotes() throws(StorageError) -> DecodedText? {
        guard notesFileExists else { return nil }
        var line: [UInt8] = []
        let chunk = 4096
        while true {
            let bytes: [UInt8]
            do {
                bytes = try system.readBytes(notesPath, offset: Int64(line.count), count: chunk)
            } catch {
                if error == .noSuchFileOrDirectory { return nil }
                throw StorageError("file '\(notesPath)' exists but open for reading failed - \(error)", errno: error)
            }
            if let newline = bytes.firstIndex(of: Grammar.newline) {
                line += bytes[..<newline]
                return DecodedText(line)
            }
            line += bytes
            if bytes.count < chunk { break }
        }
        // An empty file has no first line (Perl's readline returns undef).
        if line.isEmpty { return nil }
        return DecodedText(line)
    }

    /// Sets the notes to `bytes` (UTF-8): non-empty notes are written atomically (a
    /// temporary file, then a rename, mode 0644), empty or nil ones remove the notes file.
    public func setNotes(_ bytes: [UInt8]?) throws(StorageError) {
        guard let bytes, !bytes.isEmpty else {
            do { try system.removeFile(notesPath) } catch {
                if error != .noSuchFileOrDirectory {
                    throw StorageError("could not delete notes - \(error)", errno: error)
                }
            }
            return
        }
        let temporary = "\(notesPath).tmp.\(ProcessIdentity.current)"
        var attempt = 0
        while true {
            do {
                try system.writeFile(temporary, contents: bytes, mode: 0o644, exclusive: true)
                break
            } catch {
                attempt += 1
                // A stale temporary file of an earlier process with this pid.
                if error == .fileExists, attempt < 3, (try? system.removeFile(temporary)) != nil { continue }
                throw StorageError("unable to open file '\(temporary)' - \(error)", errno: error)
            }
        }
        do {
            try system.rename(temporary, to: notesPath, replacing: true)
        } catch {
            try? system.removeFile(temporary)
            throw StorageError("close (rename) atomic file '\(notesPath)' failed: \(error)", errno: error)
        }
    }

    // MARK: Protection

    public var isProtected: Bool { system.exists(protectionPath) }

    /// Creates or removes the protection marker; nothing happens when it is already as asked.
    public func setProtected(_ protected: Bool) throws(StorageError) {
        guard protected != isProtected else { return }
        if protected {
            do { try system.writeFile(protectionPath, contents: [], mode: 0o644, exclusive: true) } catch {
                if error == .fileExists { return }
                throw StorageError("unable to create protection file '\(protectionPath)' - \(error)", errno: error)
            }
        } else {
            do { try system.removeFile(protectionPath) } catch {
                if error != .noSuchFileOrDirectory {
                    throw StorageError("could not delete protection file '\(protectionPath)' - \(error)", errno: error)
                }
            }
        }
    }
}
