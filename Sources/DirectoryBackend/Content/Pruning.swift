import PVEStorage

/// The outcome of `prune_backups`: the marked backups in listing order, and whether
/// any removal failed (the failures were logged).
public struct PruneResult: Sendable {
    public var entries: [PruneEntry]
    public var failed: Bool
}

/// The marking half of pruning, apart from the file system (PVE::Storage::Plugin's `prune_backups`).
public enum PrunePlan {
    /// The prune entries of `backups` (the backup listing, in its order): grouped per
    /// guest and type and marked by `keep`; backups of another `type` are left out.
    public static func mark(_ backups: [ContentItem], keep retention: Retention, vmid: String?, type: String?,
                            in system: any SystemCalls) throws(StorageError) -> [PruneEntry] {
        var entries: [PruneEntry] = []
        var groups: [String: [Int]] = [:]
        var groupOrder: [String] = []
        for backup in backups {
            let archive = try? ArchiveInfo.parse(backup.volid, in: system)
            let backupType = archive?.type ?? "unknown"
            if let type, type != backupType { continue }
            var entry = PruneEntry(volid: backup.volid, type: backupType, ctime: backup.ctime)
            if let standard = archive?.standard {
                entry.vmid = .number(standard.vmid)
            } else if let owner = backup.vmid {
                entry.vmid = .name(owner)
            }
            if let standard = archive?.standard {
                if let vmid, String(standard.vmid) != vmid {
                    throw StorageError(PruneFailure.wrongVMID(found: standard.vmid, expected: vmid))
                }
                entry.ctime = standard.ctime
                let group = "\(backupType)/\(standard.vmid)"
                if groups[group] == nil { groupOrder.append(group) }
                groups[group, default: []].append(entries.count)
            } else {
                // Backups not named the standard way are never pruned.
                entry.mark = .renamed
            }
            if backup.isProtected { entry.mark = .protected }
            entries.append(entry)
        }

        for group in groupOrder {
            guard let members = groups[group] else { continue }
            var slice = members.map { entries[$0] }
            retention.mark(&slice, in: system)
            for (position, index) in members.enumerated() { entries[index].mark = slice[position].mark }
        }
        return entries
    }
}

extension DirectoryStorage {
    /// `prune_backups` (PVE::Storage::Plugin's): marks the listed backups per guest-and-type
    /// group and, unless `dryRun`, removes those marked `remove` with their `.log` and
    /// `.notes` companions, logging each step through `log(level, message)`.
    public func pruneBackups(keep: Retention, vmid: String?, type: String?, dryRun: Bool,
                             log: (String, String) -> Void, warn: (String) -> Void) throws(StorageError) -> PruneResult {
        let entries = try PrunePlan.mark(try listContent(.backup, vmid: vmid), keep: keep, vmid: vmid, type: type, in: system)
        var failed = false
        if !dryRun {
            for entry in entries where entry.mark == .remove {
                log("info", "removing backup '\(entry.volid)'")
                do {
                    try removeArchive(volid: entry.volid, warn: warn)
                } catch {
                    log("err", "error when removing backup '\(entry.volid)' - \(error.message)\n\n")
                    failed = true
                }
            }
        }
        return PruneResult(entries: entries, failed: failed)
    }

    /// Removes a backup archive as PVE's `archive_remove` does: never a protected one;
    /// a missing archive is fine; then its `.log` and `.notes` companions (failures
    /// there are warnings).
    func removeArchive(volid: String, warn: (String) -> Void) throws(StorageError) {
        let volname = volid.split(separator: ":", maxSplits: 1).dropFirst().first.map(String.init) ?? volid
        let (path, _) = try filesystemPath(volname)
        let sidecars = BackupSidecars(system: system, archivePath: path)
        // Pruning removes what nobody named: a backup whose protection cannot be ruled out stays.
        if sidecars.mayBeProtected { throw StorageError(PruneFailure.protectedArchive(path: path)) }
        do { try system.removeFile(path) } catch {
            if error != .noSuchFileOrDirectory {
                throw StorageError(PruneFailure.archiveNotRemoved(path: path, error))
            }
        }
        guard let standard = (try? ArchiveInfo.parse(path, in: system))?.standard else { return }
        let directory = FilePath.parent(of: path)
        for (kind, name) in [("log", standard.logFilename), ("notes", standard.notesFilename)] {
            let companion = directory + "/" + name
            guard (try? system.status(companion, followSymlinks: false)) != nil else { continue }
            do { try system.removeFile(companion) } catch {
                if error != .noSuchFileOrDirectory { warn("WARN: Removing \(kind) file failed: \(error)") }
            }
        }
    }
}
