import SwiftPluginCore

// The only places where the fuzz targets touch the untyped bridge API (Value, ValueCoding,
// StorageConfig(Value)): when the bridge changes to typed arguments, adapt these two.

/// A request as the XS glue encodes it; nil when the bytes are not a valid encoding.
func decodeRequest(_ input: [UInt8]) -> Value? {
    try? ValueCoding.decode(input)
}

/// The storage configuration the glue would build from a decoded `$scfg`.
func storageConfig(_ value: Value) -> StorageConfig? {
    try? StorageConfig(value)
}

/// A value in the glue's encoding.
func encode(_ value: Value) -> [UInt8] {
    ValueCoding.encode(value)
}
