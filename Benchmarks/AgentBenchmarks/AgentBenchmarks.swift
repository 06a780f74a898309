// The agent (TernClient) and AsyncHTTPClient side by side against one local origin.
//
// The origin (BenchOrigin, a separate executable of this package) runs in its own process so its
// CPU time is not counted: each benchmark starts it in setup and kills it in teardown. Set
// BENCH_ORIGIN_PORT to use an origin that is already listening on 127.0.0.1 instead, or
// BENCH_ORIGIN_PATH to point at the BenchOrigin binary (default: next to this executable).
//
// Each iteration is a batch:
//   1 KiB:  `requestsPerBatch` GETs of /1k, issued by 64 concurrent tasks, each body read fully
//   16 MiB: one GET of /16m, the body streamed and counted chunk by chunk (never collected)
// Both clients use a one-thread event loop group created in setup; AsyncHTTPClient's pool is
// raised to 64 connections per host so both sides keep 64 keep-alive connections open.
// A third contender in the 16 MiB case is no client: a blocking recv(2) loop reading the same
// response, the floor any client reading through the socket stands on.
// scripts/bench-agent.sh turns the per-batch medians into per-request figures and ratios.

import AsyncHTTPClient
import Benchmark
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(TernClient)
import TernClient
#endif

/// Concurrent tasks (and pool connections) in the 1 KiB benchmarks.
let concurrency = 64
/// GETs per 1 KiB batch: 64 tasks x 16 sequential GETs. bench-agent.sh divides by this.
let requestsPerBatch = 1024
let smallBodyLength = 1024
let largeBodyLength = 16 << 20

/// Process CPU time of one batch in nanoseconds, from CLOCK_PROCESS_CPUTIME_ID. package-benchmark's
/// cpuTotal comes from /proc in scheduler ticks (10 ms here), too coarse for a 10-60 ms batch.
let cpuPrecise = BenchmarkMetric.custom("CPU ns (process clock)", polarity: .prefersSmaller, useScalingFactor: true)

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [
        .wallClock, .cpuTotal, .throughput, .mallocCountTotal, .peakMemoryResident, cpuPrecise,
    ]
    // Fixed units, so the exported figures are nanoseconds / counts / bytes and can be divided
    // without guessing what the automatic scaling chose.
    let units: [BenchmarkMetric: BenchmarkUnits] = [
        .mallocCountTotal: .count, .peakMemoryResident: .count, .throughput: .count, cpuPrecise: .count,
    ]
    let seconds = Int(ProcessInfo.processInfo.environment["BENCH_MAX_SECONDS"] ?? "") ?? 8

    let small = Benchmark.Configuration(
        metrics: metrics, timeUnits: .nanoseconds, units: units,
        warmupIterations: 3, scalingFactor: .one, maxDuration: .seconds(seconds), maxIterations: 400
    )
    let large = Benchmark.Configuration(
        metrics: metrics, timeUnits: .nanoseconds, units: units,
        warmupIterations: 3, scalingFactor: .one, maxDuration: .seconds(seconds), maxIterations: 400
    )

    // MARK: AsyncHTTPClient

    Benchmark("AHC 64x concurrent 1KiB GET", configuration: small) { benchmark, fixture in
        await fixture.run(benchmark) { client, url in
            try await smallBatch { try await ahcGet(client, url, expecting: smallBodyLength) }
        }
    } setup: {
        try await Fixture<HTTPClient>.start(path: "/1k", makeClient: makeAHC)
    } teardown: {
        try await Fixture<HTTPClient>.stop(shutdown: { try await $0.shutdown() })
    }

    Benchmark("AHC 16MiB download", configuration: large) { benchmark, fixture in
        await fixture.run(benchmark) { client, url in
            try await ahcGet(client, url, expecting: largeBodyLength)
        }
    } setup: {
        try await Fixture<HTTPClient>.start(path: "/16m", makeClient: makeAHC)
    } teardown: {
        try await Fixture<HTTPClient>.stop(shutdown: { try await $0.shutdown() })
    }

    // MARK: the floor

    // Not a client: one blocking socket reading the same response with recv(2) into a 128 KiB
    // buffer and counting it. What any client that reads the bytes through the socket pays on this
    // machine (the kernel's copy, mostly); bench-agent.sh prints it beside the two clients.
    Benchmark("floor 16MiB download", configuration: large) { benchmark, fixture in
        await fixture.run(benchmark) { _, url in
            try recvLoopGet(url, expecting: largeBodyLength)
        }
    } setup: {
        try await Fixture<RecvLoop>.start(path: "/16m", makeClient: { _ in RecvLoop() })
    } teardown: {
        try await Fixture<RecvLoop>.stop(shutdown: { _ in })
    }

    // MARK: agent

    #if canImport(TernClient)
    Benchmark("agent 64x concurrent 1KiB GET", configuration: small) { benchmark, fixture in
        await fixture.run(benchmark) { agent, url in
            try await smallBatch { try await agentGet(agent, url, expecting: smallBodyLength) }
        }
    } setup: {
        try await Fixture<Agent>.start(path: "/1k", makeClient: makeAgent)
    } teardown: {
        try await Fixture<Agent>.stop(shutdown: { try await $0.shutdown() })
    }

    Benchmark("agent 16MiB download", configuration: large) { benchmark, fixture in
        await fixture.run(benchmark) { agent, url in
            try await agentGet(agent, url, expecting: largeBodyLength)
        }
    } setup: {
        try await Fixture<Agent>.start(path: "/16m", makeClient: makeAgent)
    } teardown: {
        try await Fixture<Agent>.stop(shutdown: { try await $0.shutdown() })
    }
    #endif
}

// MARK: - Clients

func makeAHC(_ group: MultiThreadedEventLoopGroup) -> HTTPClient {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)
    return HTTPClient(eventLoopGroup: group, configuration: configuration)
}

func ahcGet(_ client: HTTPClient, _ url: String, expecting length: Int) async throws {
    let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(60))
    guard response.status == .ok else { throw BenchError.status(Int(response.status.code)) }
    var received = 0
    for try await chunk in response.body {
        received += chunk.readableBytes
    }
    guard received == length else { throw BenchError.length(received, expected: length) }
}

#if canImport(TernClient)
func makeAgent(_ group: MultiThreadedEventLoopGroup) -> Agent {
    var configuration = Agent.Configuration()
    configuration.maxConnectionsPerOrigin = concurrency
    configuration.idleTimeout = .seconds(60)
    // AsyncHTTPClient's default: no Accept-Encoding, no decompressor in the pipeline.
    configuration.decompression = .disabled
    return Agent(configuration: configuration, eventLoopGroup: group)
}

func agentGet(_ agent: Agent, _ url: String, expecting length: Int) async throws {
    // The same whole-request deadline as the AsyncHTTPClient side.
    let response = try await agent.get(url, timeout: .seconds(60))
    guard response.status == .ok else { throw BenchError.status(response.status.code) }
    var received = 0
    for try await chunk in response.body {
        received += chunk.readableBytes
    }
    guard received == length else { throw BenchError.length(received, expected: length) }
}
#endif

/// The floor's "client": no state; `recvLoopGet` opens a socket per download.
struct RecvLoop: Sendable {}

/// GET `url` (http://127.0.0.1:PORT/PATH) on a fresh blocking socket and read the response with
/// recv(2) until the head and `length` body bytes have come; nothing is parsed but the head's end.
func recvLoopGet(_ url: String, expecting length: Int) throws {
    let rest = url.dropFirst("http://127.0.0.1:".count)
    guard let slash = rest.firstIndex(of: "/"), let port = UInt16(rest[..<slash]) else { throw BenchError.origin("bad URL \(url)") }
    let path = rest[slash...]
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError.origin("socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw BenchError.origin("connect: errno \(errno)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard send(fd, request, request.count, 0) == request.count else { throw BenchError.origin("send: errno \(errno)") }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 128 << 10, alignment: 16)
    defer { buffer.deallocate() }
    var headLength: Int?
    var head: [UInt8] = []
    var received = 0
    while headLength.map({ received - $0 < length }) ?? true {
        let count = recv(fd, buffer.baseAddress, buffer.count, 0)
        guard count > 0 else { break }
        received += count
        if headLength == nil {
            head += buffer[0..<count]
            if let end = head.indices.dropLast(3).first(where: { head[$0] == 13 && head[$0 + 1] == 10 && head[$0 + 2] == 13 && head[$0 + 3] == 10 }) {
                headLength = end + 4
            }
        }
    }
    let body = received - (headLength ?? received)
    guard body == length else { throw BenchError.length(body, expected: length) }
}

/// `requestsPerBatch` requests from `concurrency` tasks, each doing its share sequentially.
func smallBatch(_ request: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<concurrency {
            let count = requestsPerBatch / concurrency + (worker < requestsPerBatch % concurrency ? 1 : 0)
            group.addTask {
                for _ in 0..<count { try await request() }
            }
        }
        try await group.waitForAll()
    }
}

extension String {
    func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - self.count)) + self
    }
}

func processCPUNanoseconds() -> Int {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return time.tv_sec * 1_000_000_000 + time.tv_nsec
}

enum BenchError: Error, CustomStringConvertible {
    case status(Int)
    case length(Int, expected: Int)
    case origin(String)

    var description: String {
        switch self {
        case .status(let code): "unexpected status \(code)"
        case .length(let got, let expected): "body of \(got) bytes, expected \(expected)"
        case .origin(let detail): "origin: \(detail)"
        }
    }
}

// MARK: - Fixture: origin process, event loop group, client

/// What one benchmark needs: its origin, a one-thread event loop group and one client.
/// Each benchmark runs in its own process, so there is at most one fixture alive.
final class Fixture<Client: Sendable>: Sendable {
    let origin: OriginProcess
    let group: MultiThreadedEventLoopGroup
    let client: Client
    let url: String

    let started = ContinuousClock.now

    init(origin: OriginProcess, group: MultiThreadedEventLoopGroup, client: Client, url: String) {
        self.origin = origin
        self.group = group
        self.client = client
        self.url = url
    }

    static func start(
        path: String,
        makeClient: (MultiThreadedEventLoopGroup) -> Client
    ) async throws -> Fixture {
        let origin = try OriginProcess.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let fixture = Fixture(
            origin: origin, group: group, client: makeClient(group),
            url: "http://127.0.0.1:\(origin.port)\(path)"
        )
        currentFixture.withLockedValue { $0 = fixture }
        return fixture
    }

    static func stop(shutdown: (Client) async throws -> Void) async throws {
        guard let fixture = currentFixture.withLockedValue({ value in
            defer { value = nil }
            return value
        }) as? Fixture else { return }
        // Keep-alive connections still open to the origin, counted before the client closes them.
        let connections = fixture.origin.establishedConnections()
        defer {
            let elapsed = ContinuousClock.now - fixture.started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            fixture.origin.stop(
                benchmark: "\(Client.self) \(fixture.url)", wallSeconds: seconds, connections: connections
            )
        }
        try await shutdown(fixture.client)
        try await fixture.group.shutdownGracefully()
    }

    /// Runs one measured batch and records its process CPU time; a failure fails the benchmark
    /// run with the error.
    func run(_ benchmark: Benchmark, _ body: (Client, String) async throws -> Void) async {
        let start = processCPUNanoseconds()
        do {
            try await body(self.client, self.url)
        } catch {
            benchmark.error("\(benchmark.name) failed: \(error)")
            return
        }
        benchmark.measurement(cpuPrecise, processCPUNanoseconds() - start)
    }
}

/// The fixture of the benchmark running in this process (set in setup, cleared in teardown).
private let currentFixture = NIOLockedValueBox<(any Sendable)?>(nil)

/// The BenchOrigin subprocess, or an origin someone else started (BENCH_ORIGIN_PORT).
///
/// Spawned with posix_spawn (empty signal mask, no LD_PRELOAD) and reaped with SIGKILL + wait4,
/// not Foundation.Process: with Process, the origin outlived terminate() and waitUntilExit() hung
/// in teardown (in its run loop), so the benchmark never reported.
final class OriginProcess: Sendable {
    let port: Int
    private let pid: pid_t?

    private init(port: Int, pid: pid_t?) {
        self.port = port
        self.pid = pid
    }

    static func start() throws -> OriginProcess {
        let environment = ProcessInfo.processInfo.environment
        if let text = environment["BENCH_ORIGIN_PORT"], let port = Int(text) {
            return OriginProcess(port: port, pid: nil)
        }
        let path = environment["BENCH_ORIGIN_PATH"] ?? Self.defaultPath()
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BenchError.origin("no BenchOrigin executable at \(path); build it (swift build -c release --product BenchOrigin) or set BENCH_ORIGIN_PATH")
        }
        let arguments = [path, "0", environment["BENCH_ORIGIN_THREADS"] ?? "1"]

        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw BenchError.origin("pipe: errno \(errno)") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        posix_spawn_file_actions_addclose(&actions, writeEnd)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        // The origin gets this environment minus LD_PRELOAD (the benchmark tool preloads its
        // malloc interposer into this process; the origin has no use for it).
        let originEnvironment = environment.filter { $0.key != "LD_PRELOAD" }.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let cArguments = arguments.map { strdup($0) } + [nil]
        let cEnvironment = originEnvironment.map { strdup($0) } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        let status = posix_spawn(&pid, path, &actions, &attributes, cArguments, cEnvironment)
        close(writeEnd)
        guard status == 0 else { throw BenchError.origin("posix_spawn \(path): error \(status)") }

        // Wait for "ready <port>".
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 256)
        while !text.contains("\n") {
            let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count <= 0 {
                Self.reap(pid)
                throw BenchError.origin("BenchOrigin exited before it was ready")
            }
            text += String(decoding: buffer[0..<count], as: UTF8.self)
        }
        let line = text.split(separator: "\n").first ?? ""
        guard line.hasPrefix("ready "), let port = Int(line.dropFirst("ready ".count)) else {
            Self.reap(pid)
            throw BenchError.origin("unexpected BenchOrigin output: \(line)")
        }
        return OriginProcess(port: port, pid: pid)
    }

    /// Kills the origin and reports (to $BENCH_ORIGIN_REPORT) the CPU time it used over the whole benchmark
    /// (warmup included), to tell whether the origin, not the client, limited requests/s.
    func stop(benchmark name: String, wallSeconds: Double, connections: Int?) {
        guard let pid else { return }
        let usage = Self.reap(pid)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        let line = "BenchOrigin (\(name)): \(String(format: "%.2f", cpu)) s CPU in \(String(format: "%.2f", wallSeconds)) s (\(Int((cpu / wallSeconds * 100).rounded()))% of one core)\(connections.map { ", \($0) client connections open at the end" } ?? "")\n"
        // package-benchmark silences this process's output; the script names a file to append to.
        if let path = ProcessInfo.processInfo.environment["BENCH_ORIGIN_REPORT"],
            let file = FileHandle(forWritingAtPath: path) ?? {
                _ = FileManager.default.createFile(atPath: path, contents: nil)
                return FileHandle(forWritingAtPath: path)
            }()
        {
            file.seekToEndOfFile()
            file.write(Data(line.utf8))
            try? file.close()
        }
    }

    /// Server-side sockets of the origin in ESTABLISHED state (IPv4 loopback, from /proc/net/tcp).
    func establishedConnections() -> Int? {
        // Read to the end: String(contentsOfFile:) stops after the first 4 KiB of a /proc file.
        guard let handle = FileHandle(forReadingAtPath: "/proc/net/tcp") else { return nil }
        defer { try? handle.close() }
        let table = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        let local = ":" + String(self.port, radix: 16, uppercase: true).leftPadded(to: 4)
        return table.split(separator: "\n").dropFirst().reduce(0) { count, line in
            let fields = line.split(separator: " ")
            // fields: sl local_address rem_address st ...; st 01 = ESTABLISHED
            guard fields.count > 3, fields[1].hasSuffix(local), fields[3] == "01" else { return count }
            return count + 1
        }
    }

    @discardableResult
    private static func reap(_ pid: pid_t) -> rusage {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) == -1 && errno == EINTR {}
        return usage
    }

    /// BenchOrigin sits next to this benchmark executable in the same build directory.
    private static func defaultPath() -> String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("BenchOrigin").path
    }
}
