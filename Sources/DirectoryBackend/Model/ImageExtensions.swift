/// Image file names: the extension is the format.
enum ImageExtensions {
    /// `.<format>` of every image format, in ``ImageFormat``'s order.
    static let all: [(format: ImageFormat, suffix: [String])] = ImageFormat.allCases.map { ($0, [".\($0)"]) }

    /// The format an image file name's extension names (`.raw`, `.qcow2`, ...), with at
    /// least one byte before it; nil for any other name. The one test of image extensions.
    static func format(_ bytes: [UInt8]) -> ImageFormat? {
        all.first { NameBytes.hasExtension(bytes, $0.suffix, caseInsensitive: false) }?.format
    }
}
