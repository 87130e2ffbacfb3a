// swift-tools-version:6.0
import PackageDescription

/// The benchmark's fake Track API: a loopback HTTP/1.1 server that counts unique, duplicate and
/// lost events fast enough (well above a million events per second on one core) that the
/// benchmark measures the shipper, not itself. Outside the main package so that it never ships.
let package = Package(
    name: "track-sink",
    targets: [
        .systemLibrary(name: "CSink"),
        .executableTarget(name: "track-sink", dependencies: ["CSink"]),
        /// A do-nothing client that measures the sink's own ceiling.
        .executableTarget(name: "sink-load"),
    ]
)
