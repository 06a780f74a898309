// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets (swiftc -sanitize=fuzzer) for the proxy.conf reader and the RESP decoder.
// Build and run with scripts/libfuzz.sh from the repository root; Linux only.
let package = Package(
    name: "TernFuzz",
    dependencies: [
        .package(name: "tern", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "FuzzConfig",
            dependencies: [.product(name: "TernProxy", package: "tern")],
            path: "Sources/FuzzConfig",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FuzzRESP",
            dependencies: [
                .product(name: "TernRedis", package: "tern"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/FuzzRESP",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
