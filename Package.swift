// swift-tools-version:6.0
import PackageDescription

/// One list of settings for every target: Swift 6 language mode is the tools default;
/// strict memory and existential habits are switched on everywhere.
let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "tracktail",
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Posix", swiftSettings: settings),
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
            swiftSettings: settings
        ),
        // Test support: the fake Track API (Foundation, OpenSSL) shared by HTTPTests and EndToEndTests.
        // Only test targets depend on it; the executable never links it.
        .target(name: "TrackAPIFake", dependencies: ["COpenSSL"], path: "Tests/TrackAPIFake", swiftSettings: settings),
        .testTarget(name: "JSONTests", dependencies: ["JSON"], swiftSettings: settings),
        .testTarget(name: "TOMLTests", dependencies: ["TOML"], swiftSettings: settings),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "JSON"], swiftSettings: settings),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Posix", "CZlib", "TrackAPIFake"], swiftSettings: settings),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Posix"], swiftSettings: settings),
        .testTarget(name: "TailTests", dependencies: ["Tail", "Posix", "Pipeline", "Runtime"], swiftSettings: settings),
        .testTarget(name: "ShipTests", dependencies: ["Ship", "Pipeline", "HTTP", "Runtime", "Posix"], swiftSettings: settings),
        .testTarget(name: "EndToEndTests", dependencies: ["tracktail", "TrackAPIFake"], swiftSettings: settings),
    ]
)
