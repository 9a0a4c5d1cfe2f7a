/// A plugin method the plugin does not support: what a `refuse` line of methods.txt
/// makes the method throw, without any Swift of the plugin's.
///
/// Worded as PVE's base class words its own refusals where it has one for the method
/// (volume notes, `rename_volume` before API 10, `qemu_blockdev_options`, backup
/// providers, `get_identity`), and otherwise as PVE's plugins do: "`<method>` is not
/// implemented for `<class>`".
public struct MethodRefusal: StorageFailure {
    /// The Perl name of the method.
    public let method: String
    /// The class it was called on.
    public let className: String

    public init(method: String, className: String) {
        self.method = method
        self.className = className
    }

    public var description: String {
        switch method {
        case "get_volume_notes", "update_volume_notes": "volume notes are not supported for \(className)"
        case "rename_volume": "not implemented in storage plugin '\(className)'"
        case "qemu_blockdev_options": "storage plugin doesn't implement qemu_blockdev_options() method"
        case "new_backup_provider": "implement me if enabling the feature 'backup-provider' in plugindata()->{features}"
        case "get_identity": "get_identity not implemented for this plugin"
        default: "\(method) is not implemented for \(className)"
        }
    }
}
