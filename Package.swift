// swift-tools-version:6.0
//
// One dynamic library, SwiftPlugin, that Perl loads as the XS module of
// PVE::Storage::Custom::SwiftPlugin. `make` builds it with the XS glue and the
// Swift runtime linked in (see the Makefile); plain `swift build` / `swift test`
// build and test the Swift targets alone.
import PackageDescription

// `make` generates the XS C file and passes the host perl's compiler flags here;
// without them the PerlXS and PerlGlue targets are left out and the library has no
// Perl entry point.
let perlCFlags = Context.environment["SPVE_PERL_CFLAGS"]
    .map { $0.split(separator: " ").map(String.init) }

var targets: [Target] = [
    // The hand-written C header in include/ is the ABI contract.
    .systemLibrary(name: "CSwiftPlugin", path: "include"),
    // C shims for system calls Swift cannot call directly (ioctl, renameat2, wait macros).
    .systemLibrary(name: "CSystemShims", path: "Sources/CSystemShims"),
    // Pure Swift without the C library: storage semantics, value coding, and the
    // system-call seam (the SystemCalls protocol) it works through.
    .target(name: "SwiftPluginCore"),
    // The live system behind the seam: the only Swift that calls the C library.
    .target(name: "SwiftPluginSystem", dependencies: ["SwiftPluginCore", "CSystemShims"]),
    // Thin @c thunks implementing include/swiftplugin.h on top of the core and the live system.
    .target(name: "SwiftPluginABI", dependencies: ["CSwiftPlugin", "SwiftPluginCore", "SwiftPluginSystem"]),
    .testTarget(name: "SwiftPluginCoreTests", dependencies: ["SwiftPluginCore", "SwiftPluginSystem"]),
    // Fuzzing (fuzz/, FUZZING.md): the fuzz targets, and the test that replays their saved
    // inputs. Not part of the library: `make fuzz` builds the libFuzzer executables itself.
    .target(name: "FuzzTargets", dependencies: ["SwiftPluginCore", "SwiftPluginSystem"], path: "fuzz/Targets"),
    .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets"], path: "fuzz/RegressionTests"),
]
var libraryTargets = ["SwiftPluginABI"]

if let perlCFlags {
    // The C runtime of the glue (hand-written; all the Perl API use but the XSUBs'):
    // warning-free. Perl's headers come in as system headers (-isystem).
    targets.append(.target(
        name: "PerlGlue",
        dependencies: ["CSwiftPlugin"],
        cSettings: [.headerSearchPath("../../include"),
                    .unsafeFlags(perlCFlags + ["-Wall", "-Wextra", "-Werror"])]))
    // The xsubpp output of perl/SwiftPlugin.xs: binding tables and XSUBs. Warning-free
    // with xsubpp 3.45 (bookworm), but its boilerplate is xsubpp's, which differs
    // between suites: warnings are shown, not fatal.
    targets.append(.target(
        name: "PerlXS",
        dependencies: ["CSwiftPlugin", "PerlGlue"],
        publicHeadersPath: ".",
        cSettings: [.headerSearchPath("../../include"),
                    .unsafeFlags(perlCFlags + ["-Wall", "-Wextra"])]))
    libraryTargets.insert(contentsOf: ["PerlXS", "PerlGlue"], at: 0)
}

let package = Package(
    name: "SwiftPlugin",
    products: [
        .library(name: "SwiftPlugin", type: .dynamic, targets: libraryTargets),
    ],
    targets: targets,
    swiftLanguageModes: [.v6]
)
