import DirectoryBackend
import PVEStorage
import PVEStoragePerl
import PVEStorageTesting
import SwiftPlugin

// The places where the fuzz targets touch the bridge: the generated argument readers,
// which read Perl values in place (here through InMemoryPerl, the glue's accessors over
// Swift values), and the configuration reader. Fuzz inputs are values in ValueCoding's
// byte encoding.

/// The value the fuzz input encodes; nil when the bytes are not a valid encoding.
func decodeRequest(_ input: [UInt8]) -> Value? {
    try? ValueCoding.decode(input)
}

/// The storage configuration of a Perl value, by its three readers: the one that reads
/// the Perl value in place (what plugin calls use), get_subdir's, which looks up only
/// the location's keys, and the one over a whole value. They must agree, refusal included.
func storageConfig(_ value: Value) -> StorageConfig? {
    let direct = try? StorageConfig(perl: value)
    let perl = InMemoryPerl()
    let package = "PVE::Storage::Custom::SwiftPlugin"
    let inPlace = perl.withCall(className: package, arguments: [value, "local"]) { call in
        try? GetFormatsArguments(from: PerlArguments(call), call: Call(package: package)).scfg
    }
    guard direct == inPlace else { violated("the two configuration readers disagree: \(String(describing: direct)) / \(String(describing: inPlace))") }
    let location = perl.withCall(className: package, arguments: [value, "iso"]) { call in
        try? GetSubdirArguments(from: PerlArguments(call), call: Call(package: package)).scfg
    }
    guard direct?.location == location else { violated("get_subdir's location disagrees: \(String(describing: location))") }
    return direct
}

/// Reads the input's value as the arguments of several methods, with every argument
/// type among them (an array is the argument list, anything else the first argument);
/// reading either succeeds or is refused, never traps.
func decodeArguments(_ input: [UInt8]) {
    guard let value = decodeRequest(input) else { return }
    let arguments: [Value?] = value.array ?? [value]
    let perl = InMemoryPerl()
    let call = Call(package: "PVE::Storage::Custom::SwiftPlugin")
    func attempt<Arguments: PluginArguments>(_ type: Arguments.Type) {
        perl.withCall(className: "PVE::Storage::Custom::SwiftPlugin", arguments: arguments) { pointer in
            _ = try? Arguments(from: PerlArguments(pointer), call: call)
        }
    }
    attempt(ParseVolnameArguments.self)
    attempt(AllocImageArguments.self)
    attempt(ListImagesArguments.self)
    attempt(ListVolumesArguments.self)
    attempt(VolumeResizeArguments.self)
    attempt(VolumeHasFeatureArguments.self)
    attempt(PruneBackupsArguments.self)
    attempt(UpdateVolumeAttributeArguments.self)
    attempt(FreeImageArguments.self)
    attempt(RenameVolumeArguments.self)
}

/// A value in ValueCoding's encoding.
func encode(_ value: Value) -> [UInt8] {
    ValueCoding.encode(value)
}
