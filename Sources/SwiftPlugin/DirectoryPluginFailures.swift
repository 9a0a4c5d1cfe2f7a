import PVEStorage

/// How the plugin's own methods fail, around the backend's failures: requests the
/// directory storage refuses before it is asked.
public enum DirectoryPluginFailure: StorageFailure {
    /// `update_volume_attribute` of a volume that is no backup.
    case attributeOnlyForBackups(String)
    /// An attribute PVE does not know, of a backup.
    case attributeNotSupported(String, storageType: String)
    /// Notes of a volume that is no backup.
    case notesOnlyForBackups
    /// A method whose storage logic has not landed yet.
    case notImplementedYet(method: String)

    public var description: String {
        switch self {
        case .attributeOnlyForBackups(let attribute): "only backups support attribute '\(attribute)'"
        case .attributeNotSupported(let attribute, let type): "attribute '\(attribute)' is not supported for storage type '\(type)'"
        case .notesOnlyForBackups: "only backups can have notes"
        case .notImplementedYet(let method): "\(method) is not implemented yet by the swift storage plugin"
        }
    }
}
