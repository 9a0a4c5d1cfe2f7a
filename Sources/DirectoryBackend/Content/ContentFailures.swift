import PVEStorage

/// A failure reading or changing a backup's companion files (``BackupSidecars``):
/// its notes and its protection marker.
public enum BackupSidecarFailure: StorageFailure {
    /// Reading the whole notes failed.
    case notesUnreadable(path: String, Errno)
    /// The notes are longer than ``BackupSidecars/maximumNotesSize``.
    case notesTooLong(path: String)
    /// Reading the first line of existing notes (for a listing) failed.
    case firstLineUnreadable(path: String, Errno)
    case notesNotDeleted(path: String, Errno)
    /// Writing the notes' temporary file failed.
    case notesNotWritten(path: String, Errno)
    /// Renaming the written notes into place failed.
    case notesNotPublished(path: String, Errno)
    case protectionNotCreated(path: String, Errno)
    /// The marker was written, yet the backup does not read as protected.
    case protectionIneffective(path: String)
    case protectionNotDeleted(path: String, Errno)

    public var errno: Errno? {
        switch self {
        case .notesUnreadable(_, let errno), .firstLineUnreadable(_, let errno), .notesNotDeleted(_, let errno),
             .notesNotWritten(_, let errno), .notesNotPublished(_, let errno), .protectionNotCreated(_, let errno),
             .protectionNotDeleted(_, let errno):
            errno
        case .notesTooLong, .protectionIneffective:
            nil
        }
    }

    public var description: String {
        switch self {
        case .notesUnreadable(let path, let errno): "error opening '\(path)': \(errno)"
        case .notesTooLong(let path): "file '\(path)' too long - aborting"
        case .firstLineUnreadable(let path, let errno): "file '\(path)' exists but open for reading failed - \(errno)"
        case .notesNotDeleted(_, let errno): "could not delete notes - \(errno)"
        case .notesNotWritten(let path, let errno): "unable to open file '\(path)' - \(errno)"
        case .notesNotPublished(let path, let errno): "close (rename) atomic file '\(path)' failed: \(errno)"
        case .protectionNotCreated(let path, let errno): "unable to create protection file '\(path)' - \(errno)"
        case .protectionIneffective(let path): "unable to create protection file '\(path)' - it does not protect the backup"
        case .protectionNotDeleted(let path, let errno): "could not delete protection file '\(path)' - \(errno)"
        }
    }
}

/// A failure of pruning backups (`prune_backups`, `archive_remove`).
public enum PruneFailure: StorageFailure {
    /// The listing for guest `expected` returned a backup of guest `found`.
    case wrongVMID(found: Int64, expected: String)
    /// The archive is, or may be, protected.
    case protectedArchive(path: String)
    case archiveNotRemoved(path: String, Errno)

    public var errno: Errno? {
        if case .archiveNotRemoved(_, let errno) = self { errno } else { nil }
    }

    public var description: String {
        switch self {
        case .wrongVMID(let found, let expected): "internal error - got wrong VMID '\(found)' != '\(expected)'"
        case .protectedArchive(let path): "cannot remove protected archive '\(path)'"
        case .archiveNotRemoved(let path, let errno): "removing archive \(path) failed: \(errno)"
        }
    }
}

/// A failure of `archive_info`.
public enum ArchiveInfoFailure: StorageFailure {
    /// The input (quoted whole) does not name a vzdump archive.
    case unrecognized(archive: String)

    public var description: String {
        switch self {
        case .unrecognized(let archive): "ERROR: couldn't determine archive info from '\(archive)'"
        }
    }
}

/// A refusal of a volume as an OVA/OVF import source (`get_import_metadata`).
public enum ImportSourceFailure: StorageFailure {
    /// The volume is not of content type `import`.
    case notImport(ContentType)
    /// The import volume is neither an OVA archive nor an OVF descriptor.
    case notOVAOrOVF(VolumeFormat)
    case symlinkLeadsOutside(volname: String)

    public var description: String {
        switch self {
        case .notImport(let type): "invalid content type '\(type)'"
        case .notOVAOrOVF: "invalid format"
        case .symlinkLeadsOutside(let volname): "import source '\(volname)' is a symbolic link leading outside the storage"
        }
    }
}
