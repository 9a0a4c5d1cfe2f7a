// swift-tools-version:6.0
//
// The SDK for PVE storage plugins written in Swift (SDK/), and the plugins built
// with it: SwiftPlugin, the directory storage PVE loads as
// PVE::Storage::Custom::SwiftPlugin, and Examples/HelloPlugin, the smallest plugin
// the SDK makes. `make` builds each plugin's dynamic library with its XS glue and the
// Swift runtime linked in (see the Makefile); plain `swift build` / `swift test`
// build and test the Swift targets alone.
import PackageDescription

// `make` generates the XS C files and passes the host perl's compiler flags here;
// without them the Perl glue targets are left out and the libraries have no Perl
// entry point.
let perlCFlags = Context.environment["SPVE_PERL_CFLAGS"]
    .map { $0.split(separator: " ").map(String.init) }

var targets: [Target] = [
    // MARK: The SDK: Perl and PVE's plugin API, nothing about any storage.

    // The C types every plugin's ABI uses (hand-written).
    .systemLibrary(name: "CPVEStorageSDK", path: "SDK/include"),
    // The plugin API's values and errors, without Perl: what a backend imports.
    .target(name: "PVEStorage", path: "SDK/Sources/PVEStorage"),
    // The Perl side: Perl values read and made in place, calls, and `serve`, which a
    // plugin's generated C entry points run.
    .target(name: "PVEStoragePerl", dependencies: ["CPVEStorageSDK", "PVEStorage"], path: "SDK/Sources/PVEStoragePerl"),
    // For tests and fuzz targets, never linked into a plugin: the glue's accessors over
    // Swift values (InMemoryPerl), and a byte encoding of values for fuzz inputs.
    .target(name: "PVEStorageTesting", dependencies: ["CPVEStorageSDK", "PVEStoragePerl"], path: "SDK/Sources/PVEStorageTesting"),

    // MARK: SwiftPlugin, the directory storage.

    // Its C ABI, generated from perl/methods.txt (include/swiftplugin.h).
    .systemLibrary(name: "CSwiftPlugin", path: "include"),
    // C shims for system calls Swift cannot call directly (ioctl, renameat2, wait macros).
    .systemLibrary(name: "CSystemShims", path: "Sources/CSystemShims"),
    // The directory storage: pure Swift on typed values, without the C library or Perl,
    // working through the system-call seam (the SystemCalls protocol).
    .target(name: "DirectoryBackend", dependencies: ["PVEStorage"]),
    // The live system behind the seam: the only Swift that calls the C library.
    .target(name: "SwiftPluginSystem", dependencies: ["DirectoryBackend", "CSystemShims"]),
    // The plugin: each method's typed arguments and Perl result around the backend,
    // and the @c entry points of include/swiftplugin.h (generated).
    .target(name: "SwiftPlugin",
            dependencies: ["CSwiftPlugin", "CPVEStorageSDK", "PVEStoragePerl", "DirectoryBackend", "SwiftPluginSystem"]),
    .testTarget(name: "SwiftPluginTests",
                dependencies: ["SwiftPlugin", "DirectoryBackend", "SwiftPluginSystem", "PVEStorageTesting"]),
    // Fuzzing (fuzz/, FUZZING.md): the fuzz targets, and the test that replays their saved
    // inputs. Not part of the library: `make fuzz` builds the libFuzzer executables itself.
    .target(name: "FuzzTargets", dependencies: ["SwiftPlugin", "DirectoryBackend", "SwiftPluginSystem", "PVEStorageTesting"],
            path: "fuzz/Targets"),
    .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets"], path: "fuzz/RegressionTests"),

    // MARK: HelloPlugin, the example: built with the SDK alone.

    .systemLibrary(name: "CHelloPlugin", path: "Examples/HelloPlugin/include"),
    .target(name: "HelloPlugin", dependencies: ["CHelloPlugin", "CPVEStorageSDK", "PVEStoragePerl"],
            path: "Examples/HelloPlugin/Sources/HelloPlugin"),
]
var products: [Product] = [
    .library(name: "SwiftPlugin", type: .dynamic, targets: ["SwiftPlugin"]),
    .library(name: "HelloPlugin", type: .dynamic, targets: ["HelloPlugin"]),
]

if let perlCFlags {
    // The C runtime of every plugin's glue (hand-written; all the Perl API use but the
    // XSUBs'): warning-free. Perl's headers come in as system headers (-isystem).
    targets.append(.target(
        name: "PerlGlue",
        dependencies: ["CPVEStorageSDK"],
        path: "SDK/Sources/PerlGlue",
        cSettings: [.headerSearchPath("../../include"),
                    .unsafeFlags(perlCFlags + ["-Wall", "-Wextra", "-Werror"])]))
    // A plugin's XS module: xsubpp's output of its generated .xs file, binding tables
    // and XSUBs. Warning-free with xsubpp 3.45 (bookworm), but its boilerplate is
    // xsubpp's, which differs between suites: warnings are shown, not fatal.
    // Its linker version script (generated with the header) exports the plugin's C
    // functions and the XS boot function, nothing else.
    func xsTarget(_ name: String, header: String, path: String, include: String, sdk: String, versionScript: String) -> Target {
        .target(name: name, dependencies: [.target(name: header), "PerlGlue"], path: path, publicHeadersPath: ".",
                cSettings: [.headerSearchPath(include), .headerSearchPath(sdk),
                            .unsafeFlags(perlCFlags + ["-Wall", "-Wextra"])],
                linkerSettings: [.unsafeFlags(["-Xlinker", "--version-script=\(Context.packageDirectory)/\(versionScript)"])])
    }
    targets.append(xsTarget("PerlXS", header: "CSwiftPlugin", path: "Sources/PerlXS", include: "../../include",
                            sdk: "../../SDK/include", versionScript: "include/swiftplugin.map"))
    targets.append(xsTarget("HelloPluginXS", header: "CHelloPlugin", path: "Examples/HelloPlugin/Sources/HelloPluginXS",
                            include: "../../include", sdk: "../../../../SDK/include",
                            versionScript: "Examples/HelloPlugin/include/helloplugin.map"))
    products = [
        .library(name: "SwiftPlugin", type: .dynamic, targets: ["PerlXS", "PerlGlue", "SwiftPlugin"]),
        .library(name: "HelloPlugin", type: .dynamic, targets: ["HelloPluginXS", "PerlGlue", "HelloPlugin"]),
    ]
}

let package = Package(
    name: "SwiftPlugin",
    products: products,
    targets: targets,
    swiftLanguageModes: [.v6]
)
