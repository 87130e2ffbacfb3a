// swift-tools-version:6.0
import PackageDescription

/// One list of settings for every target: Swift 6 language mode is the tools default;
/// strict memory and existential habits are switched on everywhere.
let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// Release builds (what `make` and `Benchmarks/run.sh` build, with `--static-swift-stdlib`) are
/// linked for a small resident set; debug builds and the tests are unchanged:
///
/// | flag | effect on the binary | resident memory |
/// | --- | --- | --- |
/// | `-L Sources/tracktail/Link` | the `-lstdc++` of `--static-swift-stdlib` finds a linker script there that answers with `libstdc++.a`: the C++ runtime the Swift runtime needs is linked in (+120 KB) instead of loading libstdc++.so | -0.8 MB with libgcc: a shared library's symbol tables and relocations are touched whole at load |
/// | `-static-libgcc` | the same for libgcc_s | (above) |
/// | `-use-ld=lld` | LLVM's linker, shipped with the Swift toolchain, instead of gold (which has no symbol ordering) | none by itself |
/// | `--symbol-ordering-file Sources/tracktail/Link/order.txt` | the ~1,700 functions the daemon runs while shipping (`Benchmarks/link-order.sh` lists them) are laid out side by side instead of among the Swift runtime's unused code; names that no longer exist are skipped | -1.8 MB of touched code pages |
///
/// The binary then needs only glibc, libssl3 and zlib. Not used: `-z pack-relative-relocs`
/// (DT_RELR) saved another 0.6 MB, but the binary then needs glibc 2.36 and no longer runs on
/// Ubuntu 22.04 (2.35), even when built there.
let releaseLinking: [LinkerSetting] = [
    .unsafeFlags([
        "-L", Context.packageDirectory + "/Sources/tracktail/Link", "-Xclang-linker", "-static-libgcc",
        "-use-ld=lld",
        "-Xlinker", "--symbol-ordering-file=" + Context.packageDirectory + "/Sources/tracktail/Link/order.txt",
        "-Xlinker", "--no-warn-symbol-ordering",
    ], .when(platforms: [.linux], configuration: .release)),
]

let package = Package(
    name: "tracktail",
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .target(name: "Posix", dependencies: ["CMalloc"], swiftSettings: settings),
        .target(name: "JSON", swiftSettings: settings),
        .target(name: "TOML", swiftSettings: settings),
        .target(name: "Runtime", dependencies: ["Posix"], swiftSettings: settings),
        .target(name: "Pipeline", dependencies: ["JSON"], swiftSettings: settings),
        .target(name: "HTTP", dependencies: ["Posix", "COpenSSL", "CZlib"], swiftSettings: settings),
        .target(name: "Tail", dependencies: ["Posix", "JSON", "Pipeline", "Runtime"], swiftSettings: settings),
        .target(name: "Ship", dependencies: ["HTTP", "JSON", "Pipeline", "Runtime", "Posix"], swiftSettings: settings),
        .executableTarget(
            name: "tracktail",
            dependencies: ["Posix", "JSON", "TOML", "Runtime", "Pipeline", "HTTP", "Tail", "Ship"],
            exclude: ["Link"],
            swiftSettings: settings,
            linkerSettings: releaseLinking
        ),
        // Test support: the fake Track API (Foundation, OpenSSL) shared by HTTPTests and EndToEndTests.
        // Only test targets depend on it; the executable never links it.
        .target(name: "TrackAPIFake", dependencies: ["COpenSSL"], path: "Tests/TrackAPIFake", swiftSettings: settings),
        .testTarget(name: "JSONTests", dependencies: ["JSON"], swiftSettings: settings),
        .testTarget(name: "TOMLTests", dependencies: ["TOML"], swiftSettings: settings),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "JSON"], swiftSettings: settings),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Posix", "CZlib", "TrackAPIFake"], swiftSettings: settings),
        .testTarget(name: "PosixTests", dependencies: ["Posix"], swiftSettings: settings),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Posix"], swiftSettings: settings),
        .testTarget(name: "TailTests", dependencies: ["Tail", "Posix", "Pipeline", "Runtime"], swiftSettings: settings),
        .testTarget(name: "ShipTests", dependencies: ["Ship", "Pipeline", "HTTP", "Runtime", "Posix"], swiftSettings: settings),
        .testTarget(name: "EndToEndTests", dependencies: ["tracktail", "TrackAPIFake"], swiftSettings: settings),
    ]
)
