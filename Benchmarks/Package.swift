// swift-tools-version:6.1
import PackageDescription

// Agent (TernClient) vs AsyncHTTPClient, side by side against one local origin.
// Run with scripts/bench-agent.sh from the repository root.
let package = Package(
    name: "TernBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "tern", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // The mirror holds this repository as both ordo-one/benchmark and ordo-one/package-benchmark
        // (same commits); 1.38 warns that the package-benchmark identity is legacy.
        // MallocInterposer alone: the default RuntimeInterposer trait would pull in
        // swift-runtime-interposer, which is not available here (only needed for ARC metrics).
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "BenchOrigin",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/BenchOrigin"
        ),
        // The floor of scripts/bench-proxy.sh: the I/O an NIO reverse proxy must do, and nothing else.
        .executableTarget(
            name: "ProxyFloor",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/ProxyFloor"
        ),
        .executableTarget(
            name: "AgentBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "TernClient", package: "tern"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "AgentBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
