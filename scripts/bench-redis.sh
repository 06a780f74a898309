#!/usr/bin/env bash
# Pipelined SET and GET throughput of TernRedis against redis-benchmark, on the same redis-server,
# with the same pipeline depth, number of connections and number of requests. Prints both and the
# ratio (target: TernRedis at least 0.8x redis-benchmark).
#
#   scripts/bench-redis.sh [-P depth] [-c connections] [-n requests] [-r rounds]
#
# The TernRedis side is a small release executable built in a throwaway package under
# .build/bench-redis that depends on this repository by path (no new target in Package.swift).
# Like redis-benchmark it runs on one thread; each of the c connections carries P commands at a
# time, the next P going out as soon as the last reply of the previous ones is in. Needs
# redis-server and redis-benchmark (apt-get install redis-server).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
depth=16 connections=50 requests=1000000 rounds=2
while getopts "P:c:n:r:" option; do
    case "$option" in
        P) depth="$OPTARG" ;;
        c) connections="$OPTARG" ;;
        n) requests="$OPTARG" ;;
        r) rounds="$OPTARG" ;;
        *) echo "usage: $0 [-P depth] [-c connections] [-n requests] [-r rounds]" >&2; exit 2 ;;
    esac
done
for tool in redis-server redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y redis-server" >&2; exit 1; }
done

# The benchmark package.
bench="$repo/.build/bench-redis"
mkdir -p "$bench/Sources/tern-redis-bench"
identity="$(basename "$repo" | tr '[:upper:]' '[:lower:]')"
cat >"$bench/Package.swift" <<EOF
// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "tern-redis-bench",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: "$repo"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "tern-redis-bench",
            dependencies: [
                .product(name: "TernRedis", package: "$identity"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
EOF
cat >"$bench/Sources/tern-redis-bench/main.swift" <<'EOF'
import Foundation
import NIOCore
import NIOPosix
import TernRedis

// tern-redis-bench PORT DEPTH CONNECTIONS REQUESTS TEST(set|get)
let arguments = CommandLine.arguments
guard arguments.count == 6, let port = Int(arguments[1]), let depth = Int(arguments[2]),
    let connections = Int(arguments[3]), let requests = Int(arguments[4])
else {
    FileHandle.standardError.write(Data("usage: tern-redis-bench PORT DEPTH CONNECTIONS REQUESTS set|get\n".utf8))
    exit(2)
}
let test = arguments[5]

// One thread, like redis-benchmark; the same key and 3-byte value it uses by default.
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let loop = group.next()
var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(port)")
configuration.connectionsPerLoop = connections
let client = try RedisClient(configuration: configuration, eventLoopGroup: group)
let key = "key:__rand_int__"
let value = ByteBuffer(string: "xxx")

/// One run, touched only on the loop. Each virtual client sends P commands, then the next P
/// when all P replies are in.
final class Run: @unchecked Sendable {
    let client: RedisClient
    let loop: any EventLoop
    let test: String
    let depth: Int
    let requests: Int
    var issued = 0
    var completed = 0
    let done: EventLoopPromise<Void>

    init(client: RedisClient, loop: any EventLoop, test: String, depth: Int, requests: Int) {
        self.client = client
        self.loop = loop
        self.test = test
        self.depth = depth
        self.requests = requests
        self.done = loop.makePromise()
    }

    func batch() {
        let count = min(self.depth, self.requests - self.issued)
        guard count > 0 else { return }
        self.issued += count
        var remaining = count
        let completion = { (failure: (any Error)?) in
            if let failure { fatalError("\(failure)") }
            self.completed += 1
            remaining -= 1
            if self.completed == self.requests { self.done.succeed() }
            if remaining == 0 { self.batch() }
        }
        for _ in 0..<count {
            if self.test == "set" {
                self.client.set(key, value, on: self.loop).assumeIsolated().whenComplete { completion($0.failure) }
            } else {
                self.client.get(key, on: self.loop).assumeIsolated().whenComplete { completion($0.failure) }
            }
        }
    }
}

// Warm up: open every connection and touch the key.
for _ in 0..<4 {
    try await loop.flatSubmit {
        let futures = (0..<connections * 4).map { _ in client.set(key, value, on: loop) }
        return EventLoopFuture.andAllSucceed(futures, on: loop)
    }.get()
}

let run = Run(client: client, loop: loop, test: test, depth: depth, requests: requests)
let start = ContinuousClock.now
try await loop.flatSubmit {
    for _ in 0..<connections { run.batch() }
    return run.done.futureResult
}.get()
let elapsed = ContinuousClock.now - start

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print(String(format: "%.2f", Double(requests) / seconds))
try await client.shutdown()
try await group.shutdownGracefully()
EOF
[ -f "$repo/Package.resolved" ] && cp "$repo/Package.resolved" "$bench/Package.resolved"
echo "building the TernRedis benchmark (release)…" >&2
swift build -c release --package-path "$bench" -Xswiftc -enforce-exclusivity=unchecked >&2
binary="$(swift build -c release --package-path "$bench" --show-bin-path)/tern-redis-bench"

# A server of our own on a free port.
. "$repo/scripts/lib/port.sh"
port="$(free_port)"
workdir="$(mktemp -d)"
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir "$workdir" \
    --logfile "$workdir/redis.log" &
server=$!
disown "$server"
trap 'kill -9 $server 2>/dev/null || true; rm -rf "$workdir"' EXIT
for _ in $(seq 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.05
done

best() { sort -g | tail -1; }
echo "redis-benchmark vs TernRedis: -P $depth -c $connections -n $requests, best of $rounds rounds, 127.0.0.1:$port"
printf "%-5s %18s %18s %8s\n" test "redis-benchmark" "TernRedis" ratio
for test in set get; do
    reference=""
    ours=""
    for _ in $(seq "$rounds"); do
        # -q prints "SET: 123456.79 requests per second, p50=… msec" after CR-separated progress.
        line="$(redis-benchmark -h 127.0.0.1 -p "$port" -P "$depth" -c "$connections" -n "$requests" -t "$test" -q \
            | tr '\r' '\n' | grep -i "requests per second" | tail -1)"
        reference+="$(echo "$line" | sed -E 's/^[A-Z]+: ([0-9.]+) requests per second.*/\1/')"$'\n'
        ours+="$("$binary" "$port" "$depth" "$connections" "$requests" "$test")"$'\n'
    done
    reference="$(echo -n "$reference" | best)"
    ours="$(echo -n "$ours" | best)"
    ratio="$(python3 -c "print(f'{$ours / $reference:.2f}x')")"
    printf "%-5s %18s %18s %8s\n" "${test^^}" "$reference" "$ours" "$ratio"
done
