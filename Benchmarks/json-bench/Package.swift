// swift-tools-version:6.0
import PackageDescription

/// Throughput harness for the JSON module, outside the main package so that it never ships.
/// `Sources/JSON` is a symbolic link to the real module.
let package = Package(
    name: "json-bench",
    targets: [
        .target(name: "JSON"),
        .executableTarget(name: "json-bench", dependencies: ["JSON"]),
    ]
)
