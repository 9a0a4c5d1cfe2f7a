/// One storage's configuration (`$scfg`), as far as the storage logic reads it.
///
/// The glue decodes it once per call from PVE's hash; keys PVE itself evaluates
/// (nodes, shared, bwlimit, prune-backups, ...) are not decoded at all.
public struct StorageConfig: Equatable, Sendable {
    /// The section type (`swift`), for messages naming the storage type.
    public var type: String = "swift"
    /// `path` and `content-dirs`.
    public var location = StorageLocation()
    /// The storage path; nil when it is unset or false in Perl's sense (as `dir` tests it).
    public var path: String? {
        get { location.path }
        set { location.path = newValue }
    }
    /// The configured content types, in name order; nil when the `content` key is absent.
    public var content: [ContentType]?
    /// `content-dirs`: a subdirectory per content type, overriding the default.
    public var contentDirectories: [ContentType: String] {
        get { location.contentDirectories }
        set { location.contentDirectories = newValue }
    }
    /// `format`: the default image format.
    public var defaultFormat: ImageFormat?
    /// `preallocation`: qemu-img's preallocation mode for new raw and qcow2 images.
    public var preallocation: Preallocation?
    /// `snapshot-as-volume-chain` (PVE 9): qcow2 snapshots as external overlay files.
    public var snapshotAsVolumeChain = false
    /// `create-base-path`, `create-subdirs` and the older `mkdir`: nil when unset.
    public var createBasePath: Bool?
    public var createSubdirectories: Bool?
    public var makeDirectories: Bool?
    /// `is_mountpoint`: `yes`/`no` (and the other booleans) or the mount point itself.
    public var isMountpoint: String?
    /// Option values that name nothing this storage knows.
    public var unrecognized = Unrecognized()

    /// Option values PVE's parser refuses (so only a direct call passes them), kept as
    /// written because the storage answers with them.
    public struct Unrecognized: Equatable, Sendable {
        /// A `format` that is no image format: `get_formats` reports it as the default.
        public var defaultFormat: String?
        /// The first `content` name (in name order) that is no content type: activation
        /// fails on it where dir's directory lookup does (``DirectoryStorage/activate()``).
        public var content: String?

        public init(defaultFormat: String? = nil, content: String? = nil) {
            self.defaultFormat = defaultFormat
            self.content = content
        }
    }

    /// An empty configuration: every option unset.
    public init() {}

    /// A configuration with `path` (unset when false in Perl's sense, as from PVE) and `content`.
    public init(path: String?, content: [ContentType]? = nil) {
        self.path = path == "" || path == "0" ? nil : path
        self.content = content.map { Set($0).sorted() }
    }
}
