// Placeholder until the image listing of issue 3 is merged; the lead drops this file then.

/// One disk image as `list_images` reports it.
public struct ImageInfo: Equatable, Sendable {
    public var volid: String
    public var format: String
    public var size: Int64
    public var used: Int64
    public var vmid: String
    public var parent: String?
    public var ctime: Int64?

    /// The item hash of the listing.
    public var perlItem: Value {
        var members: [String: Value] = [
            "volid": .string(volid), "format": .string(format), "size": .int(size), "used": .int(used),
            "vmid": .string(vmid), "parent": .optional(parent),
        ]
        if let ctime { members["ctime"] = .int(ctime) }
        return .hash(members)
    }
}

extension DirectoryStorage {
    /// The disk images of the storage (all, or one guest's, or the listed volumes).
    public func listImages(vmid: String?, volumes: [String]?) throws(StorageError) -> [ImageInfo] {
        throw PluginMethods.notImplemented("list_images")
    }
}
