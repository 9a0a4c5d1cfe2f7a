import PVEStorage

/// An OVA or OVF file in the import directory, ready for PVE's OVF parser.
public struct ImportSource: Equatable, Sendable {
    public var path: String
    public var isOVA: Bool
}

extension DirectoryStorage {
    /// Checks that `volname` names an OVA/OVF import source (dir's messages) that does
    /// not lead outside the storage, and returns its path.
    public func importSource(_ volname: String) throws(StorageError) -> ImportSource {
        let (path, volume) = try filesystemPath(volname)
        guard volume.vtype == .import else { throw StorageError(ImportSourceFailure.notImport(volume.vtype)) }
        guard volume.format == .ova || volume.format == .ovf else { throw StorageError(ImportSourceFailure.notOVAOrOVF(volume.format)) }
        if let own = try? system.status(path, followSymlinks: false), own.kind == .symlink {
            let base = try basePath()
            let root = (try? system.realPath(base)) ?? base
            guard let target = try? system.realPath(path), target.hasPrefix(root == "/" ? "/" : root + "/") else {
                throw StorageError(ImportSourceFailure.symlinkLeadsOutside(volname: volname))
            }
        }
        return ImportSource(path: path, isOVA: volume.format == .ova)
    }
}
