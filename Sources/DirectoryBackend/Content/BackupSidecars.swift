import PVEStorage

/// The companion files of a backup archive (PVE::Storage::Plugin's notes and protection files): `<archive>.notes`
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

    /// The most notes PVE reads (its `file_get_contents` limit, the size of a file in
    /// the cluster file system); longer notes are refused as `dir` refuses them.
    public static let maximumNotesSize = 1024 * 1024

    /// The whole notes, decoded as UTF-8 (bytes when invalid); `''` without a notes file.
    public func notes() throws(StorageError) -> DecodedText {
        guard notesFileExists else { return .characters("") }
        let bytes: [UInt8]
        do {
            // One byte more than allowed tells a file that is too long, without reading it all.
            bytes = try system.readBytes(notesPath, offset: 0, count: Self.maximumNotesSize + 1)
        } catch {
            throw StorageError(BackupSidecarFailure.notesUnreadable(path: notesPath, error))
        }
        guard bytes.count <= Self.maximumNotesSize else { throw StorageError(BackupSidecarFailure.notesTooLong(path: notesPath)) }
        return DecodedText(bytes)
    }

    /// The first line of the notes (for listings), or nil when there is no notes file
    /// or it is empty.
    ///
    /// `probe` is what ``SystemCalls/probeFiles(_:)`` found for ``notesProbe``: its
    /// status stands for the check of the notes file, its first bytes for the first read
    /// (a read that failed there is made again).
    public func firstLineOfNotes(probe: FileProbe? = nil) throws(StorageError) -> DecodedText? {
        if let probe {
            guard case .success(let status) = probe.status, status.kind == .regular else { return nil }
        } else {
            guard notesFileExists else { return nil }
        }
        var line: [UInt8] = []
        let chunk = Self.notesChunk
        var probed: [UInt8]?
        if case .success(let head)? = probe?.head { probed = head }
        while true {
            let bytes: [UInt8]
            do {
                if let head = probed {
                    bytes = head
                    probed = nil
                } else {
                    bytes = try system.readBytes(notesPath, offset: Int64(line.count), count: chunk)
                }
            } catch {
                if error == .noSuchFileOrDirectory { return nil }
                throw StorageError(BackupSidecarFailure.firstLineUnreadable(path: notesPath, error))
            }
            if let newline = bytes.firstIndex(of: NameBytes.newline) {
                line += bytes[..<newline]
                return DecodedText(line)
            }
            line += bytes
            if bytes.count < chunk { break }
            // A listing shows one line: at most as much as the whole notes may hold.
            if line.count >= Self.maximumNotesSize {
                line.removeLast(line.count - Self.maximumNotesSize)
                break
            }
        }
        // An empty file has no first line (Perl's readline returns undef).
        if line.isEmpty { return nil }
        return DecodedText(line)
    }

    /// How much of the notes a listing reads at a time.
    public static let notesChunk = 4096

    /// The look-up ``firstLineOfNotes(probe:)`` takes (the notes file's `lstat` and first chunk).
    public var notesProbe: FileProbeRequest {
        FileProbeRequest(path: notesPath, followSymlinks: false, headBytes: Self.notesChunk)
    }

    /// The look-up ``isProtected(probe:)`` takes (`stat` of the marker).
    public var protectionProbe: FileProbeRequest {
        FileProbeRequest(path: protectionPath, followSymlinks: true)
    }

    /// ``isProtected`` from what ``SystemCalls/probeFiles(_:)`` found for ``protectionProbe``.
    public func isProtected(probe: FileProbe) -> Bool {
        if case .success = probe.status { return true }
        return false
    }

    /// Sets the notes to `bytes` (UTF-8): non-empty notes are written atomically (a
    /// temporary file, then a rename, mode 0644), empty or nil ones remove the notes file.
    public func setNotes(_ bytes: [UInt8]?) throws(StorageError) {
        guard let bytes, !bytes.isEmpty else {
            do { try system.removeFile(notesPath) } catch {
                if error != .noSuchFileOrDirectory {
                    throw StorageError(BackupSidecarFailure.notesNotDeleted(path: notesPath, error))
                }
            }
            return
        }
        do { try system.writeFileAtomically(notesPath, contents: bytes, mode: 0o644) } catch {
            switch error {
            case .writing(let error):
                throw StorageError(BackupSidecarFailure.notesNotWritten(path: notesPath, error))
            case .publishing(let error):
                throw StorageError(BackupSidecarFailure.notesNotPublished(path: notesPath, error))
            }
        }
    }

    // MARK: Protection

    /// Whether the backup is protected, as `dir` reads it (`-e` on the marker: a symlink
    /// counts by what it points to, so a dangling one reads as unprotected).
    public var isProtected: Bool { system.exists(protectionPath) }

    /// Whether the backup may be protected, for removals that nobody asked for by name
    /// (pruning): anything at the marker's name, even a dangling symlink, or a marker
    /// that cannot be checked (EACCES, EIO, a hung mount) counts as protected.
    public var mayBeProtected: Bool {
        do {
            _ = try system.status(protectionPath, followSymlinks: false)
            return true
        } catch {
            return error != .noSuchFileOrDirectory
        }
    }

    /// Creates or removes the protection marker; nothing happens when it is already as
    /// asked. Setting it is effective or an error: something at the marker's name that
    /// does not make the backup protected (a dangling symlink) is replaced by a real
    /// marker, never written through; the result is checked.
    public func setProtected(_ protected: Bool) throws(StorageError) {
        if protected {
            guard !isProtected else { return }
            let occupied = (try? system.status(protectionPath, followSymlinks: false)) != nil
            do throws(Errno) {
                if occupied {
                    do { try system.writeFileAtomically(protectionPath, contents: [], mode: 0o644) } catch {
                        switch error { case .writing(let error), .publishing(let error): throw error }
                    }
                } else {
                    try system.writeFile(protectionPath, contents: [], mode: 0o644, exclusive: true)
                }
            } catch {
                // Another caller protecting the same backup at the same moment is fine.
                if error != .fileExists || !isProtected {
                    throw StorageError(BackupSidecarFailure.protectionNotCreated(path: protectionPath, error))
                }
            }
            // The check that the marker protects (a planted symlink would not); a check that
            // cannot be made (EIO) leaves the marker just written standing.
            do { _ = try system.status(protectionPath, followSymlinks: true) } catch {
                if error == .noSuchFileOrDirectory {
                    throw StorageError(BackupSidecarFailure.protectionIneffective(path: protectionPath))
                }
            }
        } else {
            // Anything at the marker's name goes, a dangling symlink too: it would keep pruning away.
            do { try system.removeFile(protectionPath) } catch {
                if error != .noSuchFileOrDirectory {
                    throw StorageError(BackupSidecarFailure.protectionNotDeleted(path: protectionPath, error))
                }
            }
        }
    }
}
