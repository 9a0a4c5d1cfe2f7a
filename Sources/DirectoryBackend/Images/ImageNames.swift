import PVEStorage

/// Image directories and free disk names (`find_free_diskname`).
extension DirectoryStorage {
    /// PVE's limit of disks per guest and storage.
    public static let maximumDisksPerGuest = 1024

    /// `<images dir>/<vmid>`, refusing a VMID that is not a number (it becomes a path component).
    func imageDirectory(vmid: String) throws(StorageError) -> String {
        guard PerlString.isDigits(vmid.utf8) else { throw StorageError(ImageFailure.illegalVMID(vmid)) }
        return try subdirectory(for: .images) + "/" + vmid
    }

    /// `find_free_diskname`: the first `vm-<vmid>-disk-<n>` (or `subvol-…`) that no image
    /// of the VMID uses, whatever its extension (dir holds subvols, see §9.5).
    public func findFreeDiskname(vmid: String, format: FormatName<ImageFormat>, addFormatSuffix: Bool) throws(StorageError) -> String {
        _ = try imageDirectory(vmid: vmid)
        var used = Set(try listImages(vmid: vmid, volumes: nil, strict: true).compactMap { Self.diskNumber(in: $0.volid, vmid: vmid) })
        // Reflink snapshots whose volume is gone (a killed free or rename) keep their number taken.
        if let entries = try? system.listDirectory(try imageDirectory(vmid: vmid)) {
            for entry in entries.compactMap(\.name) {
                guard let at = entry.firstIndex(of: "@"), let number = Self.diskNumber(in: String(entry[..<at]), vmid: vmid) else { continue }
                used.insert(number)
            }
        }
        let prefix = format == .known(.subvol) ? "subvol" : "vm"
        let suffix = addFormatSuffix ? ".\(format)" : ""
        for number in 0..<Self.maximumDisksPerGuest where !used.contains(String(number)) {
            return "\(prefix)-\(vmid)-disk-\(number)\(suffix)"
        }
        throw StorageError(ImageFailure.noFreeName(vmid: vmid, storage: id))
    }

    /// The digits after the first `(vm|base|subvol|basevol)-<vmid>-disk-` in `volid`, as written.
    static func diskNumber(in volid: String, vmid: String) -> String? {
        let bytes = Array(volid.utf8)
        let patterns = ["vm", "base", "subvol", "basevol"].map { Array("\($0)-\(vmid)-disk-".utf8) }
        for start in bytes.indices {
            for pattern in patterns where bytes[start...].starts(with: pattern) {
                let digits = bytes[(start + pattern.count)...].prefix { (0x30...0x39).contains($0) }
                if !digits.isEmpty { return String(decoding: digits, as: UTF8.self) }
            }
        }
        return nil
    }
}
