/// The names of backup archives and container templates, as PVE's patterns match them.
enum ArchiveNames {
    static let compressedTemplateExtensions = [".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2"]
    static let compressions = ["gz", "lzo", "zst", "bz2"]
    /// An archive extension: `.tgz`, `.tar`, `.vma` or either compressed.
    struct BackupExtension: Sendable {
        /// As in the name, with its dot (`.vma.zst`).
        let suffix: [UInt8]
        /// Without the dot (`vma.zst`): the listing's format.
        let name: String
        /// `tar` or `vma`, and the compression (`tgz` is tar with gz).
        let format: String
        let compression: String?
    }

    /// Longest first: the first that matches is the one PVE's pattern matches.
    static let backupExtensions: [BackupExtension] = {
        var list = [BackupExtension(suffix: Array(".tgz".utf8), name: "tgz", format: "tar", compression: "gz")]
        for container in ["tar", "vma"] {
            list.append(BackupExtension(suffix: Array(".\(container)".utf8), name: container, format: container, compression: nil))
            for compression in compressions {
                list.append(BackupExtension(suffix: Array(".\(container).\(compression)".utf8), name: "\(container).\(compression)",
                                            format: container, compression: compression))
            }
        }
        return list.sorted { $0.suffix.count > $1.suffix.count }
    }()

    /// The archive extension `bytes` ends with, after at least one other byte.
    static func backupExtension(of bytes: [UInt8]) -> BackupExtension? {
        backupExtensions.first { bytes.count > $0.suffix.count && NameBytes.endsWith(bytes, $0.suffix) }
    }

    /// `vzdump-<guest type>-`, built once: parse_volname runs on every backup name.
    static let vzdumpPrefixes = ArchiveInfo.typePrefixes.map(\.prefix)

    /// The VMID of a `vzdump-<openvz|lxc|qemu>-<digits>-<more>` archive name.
    static func vzdumpVMID(_ bytes: [UInt8]) -> String? {
        for prefix in vzdumpPrefixes {
            guard bytes.starts(with: prefix) else { continue }
            let rest = bytes.dropFirst(prefix.count)
            let digits = rest.prefix { (0x30...0x39).contains($0) }
            let after = rest.dropFirst(digits.count)
            // `.+` in PVE's pattern: at least one character that is not a newline.
            if !digits.isEmpty, after.first == UInt8(ascii: "-"), after.count >= 2, !after.dropFirst().contains(NameBytes.newline) {
                return String(decoding: digits, as: UTF8.self)
            }
        }
        return nil
    }
}
