import PVEStorage

/// Where a storage keeps its content: its `path` and `content-dirs`. It is all that
/// `get_subdir` reads, so that method decodes this alone and not the whole
/// ``StorageConfig`` (which holds one).
public struct StorageLocation: Equatable, Sendable {
    /// The storage path; nil when it is unset or false in Perl's sense (as `dir` tests it).
    public var path: String?
    /// `content-dirs`: a subdirectory per content type, overriding the default.
    public var contentDirectories: [ContentType: String] = [:]

    public init(path: String? = nil, contentDirectories: [ContentType: String] = [:]) {
        self.path = path
        self.contentDirectories = contentDirectories
    }

    /// The configured path; PVE's message when there is none. PVE only accepts
    /// absolute paths; anything else is refused before it can reach the file system.
    public func basePath() throws(StorageError) -> String {
        guard let path else { throw StorageError(StorageLocationFailure.noPath) }
        let hasNUL = path.utf8.withContiguousStorageIfAvailable { $0.contains(0) } ?? path.utf8.contains(0)
        guard path.utf8.first == UInt8(ascii: "/"), !hasNUL else {
            throw StorageError(StorageLocationFailure.notAbsolute(path: path))
        }
        return path
    }

    /// `get_subdir`: the directory of a content type, honouring `content-dirs`.
    public func subdirectory(for type: ContentType) throws(StorageError) -> String {
        var base = try basePath()
        var subdirectory = contentDirectories.isEmpty ? type.defaultSubdirectory
            : contentDirectories[type] ?? type.defaultSubdirectory
        // One allocation: this is the whole of get_subdir, which PVE calls often.
        return base.withUTF8 { base in
            subdirectory.withUTF8 { subdirectory in
                String(unsafeUninitializedCapacity: base.count + 1 + subdirectory.count) { buffer in
                    _ = buffer.initialize(fromContentsOf: base)
                    buffer[base.count] = UInt8(ascii: "/")
                    _ = buffer[(base.count + 1)...].initialize(fromContentsOf: subdirectory)
                    return buffer.count
                }
            }
        }
    }

    /// `get_subdir` for a content type's name; an unknown one fails after the path is
    /// checked, as in dir.
    public func subdirectory(named vtype: String) throws(StorageError) -> String {
        guard let type = ContentType(rawValue: vtype) else {
            _ = try basePath()
            throw Self.unknownContentType(vtype)
        }
        return try subdirectory(for: type)
    }

    /// dir's refusal of a content type name it has no directory for.
    public static func unknownContentType(_ name: String) -> StorageError {
        StorageError(StorageLocationFailure.unknownContentType(name: name))
    }
}
