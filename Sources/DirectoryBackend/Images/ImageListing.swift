import PVEStorage

/// One entry of `list_images`.
public struct ImageInfo: Equatable, Sendable {
    public var volid: String
    /// The format by extension; nil when the file is not in that format (listed as `invalid`).
    public var format: ImageFormat?
    /// Virtual size in bytes.
    public var size: Int64
    /// The owner: the name of the `images/<vmid>` directory, as a string.
    public var vmid: String
    /// Bytes allocated on disk.
    public var used: Int64
    /// The backing file as recorded in the image (linked clones).
    public var parent: String?
    public var changeTime: Int64
}

/// `list_images`: the images in `images/<vmid>/`, as dir lists them.
extension DirectoryStorage {
    /// `list_images`: the images of one owner (or all), or only those in `volumes`.
    ///
    /// Like dir's glob, a directory or file that cannot be read is left out of the list;
    /// `strict` (for choosing a free name) makes that an error instead, so that a
    /// transient I/O error cannot hand out a disk number that is taken.
    public func listImages(vmid: String?, volumes: [String]?, strict: Bool = false) throws(StorageError) -> [ImageInfo] {
        let imagesDirectory = try subdirectory(for: .images)
        func entries(_ directory: String, _ listing: Result<[DirectoryEntry], Errno>) throws(StorageError) -> [String] {
            switch listing {
            case .success(let entries): return entries.compactMap(\.name)
            case .failure(let error):
                guard strict, error != .noSuchFileOrDirectory else { return [] }
                throw StorageError(ImageFailure.imagesNotListed(directory: directory, error))
            }
        }
        // In the order of Perl's glob, which dir lists with.
        let owners = GlobOrder.sorted(try entries(imagesDirectory, system.listDirectoryResult(imagesDirectory))
            .filter { $0.utf8.count >= 2 && PerlString.isDigits($0.utf8) })
            .filter { volumes != nil || vmid == nil || $0 == vmid }
        // The owners' directories are listed in one batch (concurrently on a network file system).
        let listings = system.listDirectories(owners.map { imagesDirectory + "/" + $0 })
        var candidates: [(directory: String, owner: String, name: String, format: ImageFormat)] = []
        for (owner, listing) in zip(owners, listings) {
            let directory = imagesDirectory + "/" + owner
            let names = GlobOrder.sorted(try entries(directory, listing).filter { !$0.hasPrefix(".") })
            for name in names {
                guard let format = ImageExtensions.format(Array(name.utf8)),
                      (try? VolumeName.parseImageFile(name, for: host)) != nil
                else { continue }
                candidates.append((directory, owner, name, format))
            }
        }
        // Every image's status and header are looked up in one batch (concurrently on a
        // network file system); then each is inspected in order, as one at a time.
        let probes = system.probeFiles(candidates.map { candidate in
            FileProbeRequest(path: candidate.directory + "/" + candidate.name, followSymlinks: true,
                             headBytes: candidate.format == .qcow2 || candidate.format == .vmdk ? Self.probedHeaderBytes : 0)
        })
        var images: [ImageInfo] = []
        for (index, candidate) in candidates.enumerated() {
            let (directory, owner, name, format) = candidate
            if let image = try listedImage(directory: directory, owner: owner, name: name, format: format, probe: probes[index]),
               volumes.map({ $0.contains(image.volid) }) ?? true {
                images.append(image)
            } else if strict, !system.isGone(directory + "/" + name) {
                // There, but unreadable: its name is taken all the same.
                images.append(ImageInfo(volid: "\(id):\(owner)/\(name)", format: format, size: 0, vmid: owner,
                                        used: 0, parent: nil, changeTime: 0))
            }
        }
        return images
    }

    /// How much of a qcow2 or vmdk file a listing reads at once: the header, its
    /// extensions and the backing file's name of an image qemu-img wrote.
    static let probedHeaderBytes = 4096

    private func listedImage(directory: String, owner: String, name: String, format: ImageFormat,
                             probe: FileProbe? = nil) throws(StorageError) -> ImageInfo? {
        let path = directory + "/" + name
        var reported: ImageFormat? = format
        var metadata: ImageMetadata?
        do throws(ImageInspectionError) {
            do {
                metadata = try inspector.inspect(path, format: .image(format), probe: probe)
            } catch where error.kind == .wrongFormat {
                diagnostics.warn("image '\(path)' is not in expected format '\(format)', querying as raw")
                metadata = try inspector.inspect(path, format: .image(.raw), probe: probe)
                reported = nil
            }
        } catch {
            throw StorageError(error)
        }
        guard let metadata, let size = metadata.virtualSize else { return nil }
        var volid = "\(id):\(owner)/\(name)"
        if let parent = metadata.backingFile, let base = Self.linkedBase(parent) {
            volid = "\(id):\(base.vmid)/\(base.name)/\(owner)/\(name)"
        }
        return ImageInfo(volid: volid, format: reported, size: size, vmid: owner, used: metadata.allocatedSize ?? 0,
                         parent: metadata.backingFile, changeTime: metadata.changeTime)
    }

    /// The base of a linked clone from its backing file `../<vmid>/<name>.<fmt>`. As in
    /// PVE, the two leading characters are not checked to be dots.
    static func linkedBase(_ parent: String) -> (vmid: String, name: String)? {
        let characters = Array(parent)
        guard characters.count > 3, characters[0] != "\n", characters[1] != "\n", characters[2] == "/" else { return nil }
        let rest = String(characters[3...])
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, PerlString.isDigits(parts[0].utf8), !parts[1].contains("\n"),
              ImageExtensions.format(Array(parts[1].utf8)) != nil
        else { return nil }
        return (String(parts[0]), String(parts[1]))
    }
}
