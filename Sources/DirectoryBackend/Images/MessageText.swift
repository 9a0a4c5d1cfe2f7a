import PVEStorage

extension DirectoryStorage {
    /// `text` with control characters as `\xNN`, for messages.
    static func escapingControls(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16)
                result += "\\x" + (hex.count == 1 ? "0" : "") + hex
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

extension String {
    /// Every occurrence of `pattern` (byte for byte) replaced by `replacement`.
    func replacingText(_ pattern: String, with replacement: String) -> String {
        let source = Array(utf8)
        let bytes = Array(pattern.utf8)
        guard !bytes.isEmpty else { return self }
        var result: [UInt8] = []
        var index = 0
        while index < source.count {
            if source[index...].starts(with: bytes) {
                result += replacement.utf8
                index += bytes.count
            } else {
                result.append(source[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}
