/// The PVE release whose storage layer calls the plugin, where `dir` differs between
/// releases: known from the host's storage API version (`PVE::Storage::APIVER`).
public enum HostRelease: Sendable, Equatable {
    /// PVE 8 (storage API 10 and 11).
    case pve8
    /// PVE 9 and later (storage API 12 on).
    case pve9

    public init(apiVersion: Int) {
        self = apiVersion < 12 ? .pve8 : .pve9
    }

    /// A container template's name endings: PVE 9 also takes an uncompressed `.tar`.
    var templateExtensions: [String] {
        self == .pve8 ? ArchiveNames.compressedTemplateExtensions : Self.allTemplateExtensions
    }
    private static let allTemplateExtensions = [".tar"] + ArchiveNames.compressedTemplateExtensions

    /// The options of a linked clone's qcow2 overlay: PVE 9's dir asks for extended L2
    /// tables, 128 KiB clusters and the storage's preallocation; PVE 8's for nothing.
    var backedImageOptions: BackedImageOptions {
        self == .pve8 ? .qemuDefaults : .extendedL2
    }
}

/// How `qemu-img create -b` lays out a qcow2 overlay.
public enum BackedImageOptions: Sendable, Equatable {
    /// qemu-img's defaults (64 KiB clusters, no subclusters, no preallocation).
    case qemuDefaults
    /// `extended_l2=on,cluster_size=128k`, and the preallocation asked for.
    case extendedL2
}
