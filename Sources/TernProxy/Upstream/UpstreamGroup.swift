import NIOCore
import TernClient

/// An upstream pool as the proxy runs it: its servers, their shared health, the balancing policy
/// and, for hashing policies, the consistent-hash ring. Immutable; per-loop balancing state lives
/// in `LoopBalancer`.
final class UpstreamGroup: Sendable {
    /// A class, not a struct: a request borrows its server's origin for the agent through one
    /// reference, where reading the origin out of a struct in the array copied it (each of its
    /// strings retained, then released).
    final class Server: Sendable {
        let origin: Origin
        let weight: Int
        let health: ServerHealth
        let maxConnections: Int?

        init(origin: Origin, weight: Int, health: ServerHealth, maxConnections: Int?) {
            self.origin = origin
            self.weight = weight
            self.health = health
            self.maxConnections = maxConnections
        }
    }

    let name: String
    let servers: [Server]
    let balance: ProxyConfiguration.Balance
    let tls: TLSSettings?
    let ring: HashRing?
    let healthCheck: ProxyConfiguration.HealthCheck?

    init(_ config: ProxyConfiguration.Upstream) {
        self.name = config.name
        let scheme: Origin.Scheme
        switch (config.usesTLS, config.servers.first?.isUnixSocket ?? false) {
        case (false, false): scheme = .http
        case (true, false): scheme = .https
        case (false, true): scheme = .httpUnix
        case (true, true): scheme = .httpsUnix
        }
        self.servers = config.servers.map { server in
            Server(
                origin: Origin(scheme: server.isUnixSocket ? (config.usesTLS ? .httpsUnix : .httpUnix) : scheme,
                               host: server.host, port: server.port),
                weight: server.weight,
                health: ServerHealth(maxFails: server.maxFails, failTimeout: server.failTimeout),
                maxConnections: server.maxConnections
            )
        }
        self.balance = config.balance
        if config.usesTLS {
            var tls = TLSSettings()
            if let ca = config.caFile { tls.trustRoots = .pemFile(ca) }
            self.tls = tls
        } else {
            self.tls = nil
        }
        switch config.balance {
        case .hashClientAddress, .hashHeader: self.ring = HashRing(weights: self.servers.map(\.weight))
        case .roundRobin, .leastConnections: self.ring = nil
        }
        self.healthCheck = config.healthCheck
    }
}

/// A consistent-hash ring (ketama-style): each server owns `160 × weight` points, so adding or
/// losing a server moves only its share of the keys.
struct HashRing: Sendable {
    private let points: [(hash: UInt64, server: Int)]

    init(weights: [Int]) {
        var points: [(UInt64, Int)] = []
        for (server, weight) in weights.enumerated() {
            for replica in 0..<(160 * weight) {
                points.append((fnv1a("\(server)-\(replica)".utf8), server))
            }
        }
        self.points = points.sorted { $0.0 < $1.0 }
    }

    /// Servers in ring order starting at the key's point; the caller takes the first usable one.
    func walk(from key: UInt64, _ body: (Int) -> Bool) {
        guard !self.points.isEmpty else { return }
        var low = 0
        var high = self.points.count
        while low < high {
            let mid = (low + high) / 2
            if self.points[mid].hash < key { low = mid + 1 } else { high = mid }
        }
        for offset in 0..<self.points.count {
            if body(self.points[(low + offset) % self.points.count].server) { return }
        }
    }
}

/// FNV-1a, 64 bit: small, fast and well spread for short keys.
func fnv1a<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    // Finalize (murmur3's fmix64) so that nearby keys land far apart on the ring.
    hash ^= hash >> 33
    hash = hash &* 0xff51_afd7_ed55_8ccd
    hash ^= hash >> 33
    return hash
}
