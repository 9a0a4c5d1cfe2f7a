/// Prefix and suffix tests on names as UTF-8 bytes.
enum NameBytes {
    static let slash = UInt8(ascii: "/")
    static let newline = UInt8(ascii: "\n")

    static func hasPrefix(_ bytes: [UInt8], _ prefix: String) -> Bool {
        bytes.starts(with: prefix.utf8)
    }

    /// Whether `bytes` ends with `suffix` (the whole of `bytes` may be the suffix; compare
    /// ``hasExtension(_:_:caseInsensitive:)``, which needs a name before it).
    static func endsWith(_ bytes: [UInt8], _ suffix: [UInt8]) -> Bool {
        guard bytes.count >= suffix.count else { return false }
        return bytes.withUnsafeBufferPointer { bytes in
            suffix.withUnsafeBufferPointer { suffix in
                let start = bytes.count - suffix.count
                for index in 0..<suffix.count where bytes[start + index] != suffix[index] { return false }
                return true
            }
        }
    }

    /// True when `bytes` ends with one of `suffixes` (extensions) after at least one byte of name.
    static func hasExtension(_ bytes: [UInt8], _ suffixes: [String], caseInsensitive: Bool) -> Bool {
        matchedSuffix(bytes, suffixes, caseInsensitive: caseInsensitive) != nil
    }

    static func matchedSuffix(_ bytes: [UInt8], _ suffixes: [String], caseInsensitive: Bool) -> String? {
        for suffix in suffixes {
            let tail = suffix.utf8
            guard bytes.count > tail.count else { continue }
            var index = bytes.count - tail.count
            var matches = true
            for expected in tail {
                let byte = bytes[index]
                if byte != expected, !(caseInsensitive && PerlString.lowercase(byte) == PerlString.lowercase(expected)) {
                    matches = false
                    break
                }
                index += 1
            }
            if matches { return String(decoding: bytes[(bytes.count - tail.count)...], as: UTF8.self) }
        }
        return nil
    }
}
