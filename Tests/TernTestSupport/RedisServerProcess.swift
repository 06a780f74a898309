import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `redis-server` that a test starts on a free loopback port, in a temporary directory, with
/// no persistence, and kills when it ends. The Redis tests need `redis-server` and `redis-cli` on
/// the PATH (`apt-get install redis-server`); without them they fail saying so.
public final class RedisServerProcess: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    public let unixSocketPath: String
    private let process: Process
    private let log: URL

    public var url: String { "redis://127.0.0.1:\(self.port)" }

    public static func executable(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw XCTSkipFailure(
            "\(name) is not installed: the TernRedis tests start their own Redis servers. Install it with `apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`."
        )
    }

    /// Starts a server; `arguments` are extra `redis-server` options (`--requirepass`, …).
    public init(arguments: [String] = [], port: Int? = nil) throws {
        let server = try Self.executable("redis-server")
        self.port = try port ?? Self.freePort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("tern-redis-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.unixSocketPath = self.directory.appendingPathComponent("redis.sock").path
        self.log = self.directory.appendingPathComponent("redis.log")
        self.process = Process()
        self.process.executableURL = URL(fileURLWithPath: server)
        self.process.currentDirectoryURL = self.directory
        self.process.arguments = [
            "--port", "\(self.port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self.directory.path, "--daemonize", "no", "--logfile", self.log.path,
            "--unixsocket", self.unixSocketPath, "--unixsocketperm", "700", "--enable-debug-command", "yes",
        ] + arguments
        self.process.standardOutput = FileHandle.nullDevice
        self.process.standardError = FileHandle.nullDevice
        try self.process.run()
        try self.waitUntilReady()
    }

    private func waitUntilReady() throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if !self.process.isRunning {
                let log = (try? String(contentsOf: self.log, encoding: .utf8)) ?? ""
                throw XCTSkipFailure("redis-server exited at start: \(log.suffix(2000))")
            }
            if let reply = try? self.cli(["PING"]), reply.contains("PONG") || reply.contains("NOAUTH") { return }
            usleep(50_000)
        }
        throw XCTSkipFailure("redis-server on port \(self.port) did not answer PING within 10 s")
    }

    /// Runs `redis-cli` against this server and returns its output.
    @discardableResult
    public func cli(_ arguments: [String], password: String? = nil) throws -> String {
        var all = ["-h", "127.0.0.1", "-p", "\(self.port)"]
        if let password { all += ["--no-auth-warning", "-a", password] }
        return try Self.run(try Self.executable("redis-cli"), all + arguments)
    }

    public static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Kills the server and waits for it, so its port is free again (for restart tests).
    public func stop() {
        if self.process.isRunning {
            // SIGKILL, not SIGTERM: a process started from a test thread may inherit a signal mask
            // that blocks SIGTERM, and the server has nothing to save anyway.
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
    }

    public func remove() {
        self.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }

    deinit { self.remove() }

    /// A port nobody listens on now: bind port 0, read what the kernel chose, close.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw XCTSkipFailure("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw XCTSkipFailure("bind() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether `port` can be bound on loopback now.
    public static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// A setup failure that must fail the test (not skip it) with a message that says what to do.
public struct XCTSkipFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Three masters with `--cluster-enabled yes` on loopback, joined with `redis-cli --cluster create`.
public final class RedisClusterProcess: @unchecked Sendable {
    public let nodes: [RedisServerProcess]

    public var urls: [String] { self.nodes.map(\.url) }

    public init() throws {
        // A cluster node also listens on port + 10000 (the cluster bus): pick ports where both are free.
        var ports: [Int] = []
        while ports.count < 3 {
            let port = Int.random(in: 20000..<30000)
            if !ports.contains(port), RedisServerProcess.isFree(port), RedisServerProcess.isFree(port + 10000) {
                ports.append(port)
            }
        }
        var nodes: [RedisServerProcess] = []
        for port in ports {
            nodes.append(
                try RedisServerProcess(
                    arguments: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"],
                    port: port
                )
            )
        }
        self.nodes = nodes
        let create = try RedisServerProcess.run(
            try RedisServerProcess.executable("redis-cli"),
            ["--cluster", "create"] + ports.map { "127.0.0.1:\($0)" } + ["--cluster-replicas", "0", "--cluster-yes"]
        )
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if try nodes.allSatisfy({ try $0.cli(["CLUSTER", "INFO"]).contains("cluster_state:ok") }) { return }
            usleep(100_000)
        }
        throw XCTSkipFailure("the cluster did not reach cluster_state:ok: \(create.suffix(1000))")
    }

    /// The node that serves `slot`, from `CLUSTER NODES` (`id ip:port@bus flags master - … connected 0-5460`).
    public func node(forSlot slot: UInt16) throws -> RedisServerProcess {
        for line in try self.nodes[0].cli(["CLUSTER", "NODES"]).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 9, fields[2].contains("master") else { continue }
            let address = fields[1].split(separator: "@")[0]
            guard let port = Int(address.split(separator: ":").last ?? "") else { continue }
            for range in fields[8...] {
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                let lower = bounds.first ?? -1
                let upper = bounds.count > 1 ? bounds[1] : lower
                if (lower...upper).contains(Int(slot)), let node = self.nodes.first(where: { $0.port == port }) {
                    return node
                }
            }
        }
        throw XCTSkipFailure("no node serves slot \(slot)")
    }

    public func remove() {
        for node in self.nodes { node.remove() }
    }
}
