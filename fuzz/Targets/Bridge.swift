import DirectoryBackend
import PVEStorage
import PVEStoragePerl
import SwiftPlugin

// The places where the fuzz targets touch the bridge: the value encoding and the
// generated argument decoders that read a request in place.

/// A request as the XS glue encodes it; nil when the bytes are not a valid encoding.
func decodeRequest(_ input: [UInt8]) -> Value? {
    try? ValueCoding.decode(input)
}

/// The storage configuration the glue decodes from a Perl value, by both decoders: the
/// one that reads the request in place (what plugin calls use) and the one over a
/// decoded value. They must agree, refusal included.
func storageConfig(_ value: Value) -> StorageConfig? {
    let direct = try? StorageConfig(perl: value)
    let request = encode(.hash(["scfg": value, "vtype": "iso"]))
    let inPlace = request.withUnsafeBytes { buffer -> StorageConfig? in
        var reader = RequestReader(buffer)
        return try? GetSubdirArguments(from: &reader, call: Call(className: "PVE::Storage::Custom::SwiftPlugin")).scfg
    }
    guard direct == inPlace else { violated("the two configuration decoders disagree: \(String(describing: direct)) / \(String(describing: inPlace))") }
    return direct
}

/// Decodes `input` as the request of several methods, with every argument type among
/// them; decoding either succeeds or is refused, never traps.
func decodeArguments(_ input: [UInt8]) {
    input.withUnsafeBytes { buffer in
        let call = Call(className: "PVE::Storage::Custom::SwiftPlugin")
        func attempt<Arguments: PluginArguments>(_ type: Arguments.Type) {
            var reader = RequestReader(buffer)
            _ = try? Arguments(from: &reader, call: call)
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
}

/// A value in the glue's encoding.
func encode(_ value: Value) -> [UInt8] {
    ValueCoding.encode(value)
}
