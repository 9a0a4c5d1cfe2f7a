import CPVEStorageSDK
import Testing
import PVEStorage
import PVEStoragePerl
import PVEStorageTesting

/// Failures are typed values: compared, matched and carrying their errno as values,
/// worded only by their `description`, which is what Perl's `die` gets.
@Suite("Failures: typed values, worded once, when they reach Perl")
struct StorageErrorTests {
    enum ShelfFailure: StorageFailure {
        case missing(volname: String)
        case unreadable(path: String, Errno)

        var errno: Errno? { if case .unreadable(_, let errno) = self { errno } else { nil } }
        var description: String {
            switch self {
            case .missing(let volname): "volume '\(volname)' does not exist"
            case .unreadable(let path, let errno): "unable to read '\(path)' - \(errno)"
            }
        }
    }

    @Test("a failure is matched by its type and worded by its description") func aFailureIsMatchedByTypeAndWordedByItsDescription() {
        let error = StorageError(ShelfFailure.unreadable(path: "/srv/a", .permissionDenied))
        #expect(error.failure(as: ShelfFailure.self) == .unreadable(path: "/srv/a", .permissionDenied))
        #expect(error.failure(as: ArgumentFailure.self) == nil)
        #expect(error.message == "unable to read '/srv/a' - Permission denied")
        #expect(error.errno == .permissionDenied)
        #expect(error.kind == .failed)
        #expect(StorageError(ShelfFailure.missing(volname: "x")).errno == nil)
    }

    @Test("errors are equal when their failures are, not when their words are") func errorsAreEqualWhenTheirFailuresAre() {
        #expect(StorageError(ShelfFailure.missing(volname: "a")) == StorageError(ShelfFailure.missing(volname: "a")))
        #expect(StorageError(ShelfFailure.missing(volname: "a")) != StorageError(ShelfFailure.missing(volname: "b")))
        // The same words are not the same failure.
        #expect(StorageError("volume 'a' does not exist") != StorageError(ShelfFailure.missing(volname: "a")))
        #expect(StorageError(ArgumentFailure.malformed(reason: "r"), kind: .badRequest) != StorageError(ArgumentFailure.malformed(reason: "r")))
        let set: Set<StorageError> = [StorageError(ShelfFailure.missing(volname: "a")), StorageError(ShelfFailure.missing(volname: "a")),
                                      StorageError("volume 'a' does not exist")]
        #expect(set.count == 2)
    }

    @Test("a refusal is its words and its errno") func aRefusalIsItsWords() {
        let error = StorageError("missing snapname", errno: .invalidArgument)
        #expect(error.failure(as: Refusal.self) == Refusal("missing snapname", errno: .invalidArgument))
        #expect(error.message == "missing snapname")
        #expect(error.errno == .invalidArgument)
    }

    @Test("the argument readers fail with ArgumentFailure") func theArgumentReadersFailInTheirOwnType() {
        #expect(StorageError(ArgumentFailure.notUTF8(argument: "volname", shown: "a\\xff")).message == "invalid volname 'a\\xff' - not valid UTF-8")
        #expect(StorageError(ArgumentFailure.notString(argument: "volname")).message == "invalid volname - not a string")
        #expect(StorageError(ArgumentFailure.notArray(argument: "vmids")).message == "vmids is not an array")
        #expect(StorageError(ArgumentFailure.notFileHandle(argument: "fh")).message == "fh is not a file handle")
        #expect(StorageError(ArgumentFailure.configurationNotAHash).message == "storage configuration is not a hash")
        #expect(PerlValue.malformed("no class") == StorageError(ArgumentFailure.malformed(reason: "no class"), kind: .badRequest))
        #expect(PerlValue.malformed("no class").message == "internal error: malformed arguments - no class")
    }

    @Test("a refused method dies in PVE's words", arguments: [
        ("alloc_image", "alloc_image is not implemented for PVE::Storage::Custom::Shelf"),
        ("volume_snapshot", "volume_snapshot is not implemented for PVE::Storage::Custom::Shelf"),
        ("rename_volume", "not implemented in storage plugin 'PVE::Storage::Custom::Shelf'"),
        ("get_volume_notes", "volume notes are not supported for PVE::Storage::Custom::Shelf"),
        ("update_volume_notes", "volume notes are not supported for PVE::Storage::Custom::Shelf"),
        ("qemu_blockdev_options", "storage plugin doesn't implement qemu_blockdev_options() method"),
        ("new_backup_provider", "implement me if enabling the feature 'backup-provider' in plugindata()->{features}"),
        ("get_identity", "get_identity not implemented for this plugin"),
    ])
    func aRefusedMethodDiesInPVEsWords(method: String, message: String) {
        #expect(MethodRefusal(method: method, className: "PVE::Storage::Custom::Shelf").description == message)
    }

    /// `refuse`, what a `refuse` line of methods.txt generates: no result, the refusal
    /// naming the class the method was called on (a subclass's), or the package.
    @Test("refuse fails the call with the refusal, naming the class called") func refuseFailsTheCallWithTheRefusal() {
        let perl = InMemoryPerl()
        let called = perl.call({ refuse($0, package: "PVE::Storage::Custom::Shelf", method: "free_image") },
                               className: "My::Shelf", arguments: [.string("store"), .hash([:])])
        #expect(called.result == .undef)
        #expect(called.error?.code == Int32(SPVE_ERROR_FAILED))
        #expect(called.error?.message == "free_image is not implemented for My::Shelf")
    }
}
