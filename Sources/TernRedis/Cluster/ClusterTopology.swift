import NIOCore

/// The cluster's slot map: which master serves each of the 16384 slots. Read from
/// `CLUSTER SHARDS` (Redis 7) or `CLUSTER SLOTS` (older), patched by MOVED replies in between.
/// Each event loop keeps its own copy, so routing a command takes no lock.
struct ClusterTopology: Sendable, Equatable, CustomStringConvertible {
    private(set) var nodes: [RedisEndpoint] = []
    /// Per slot, an index into `nodes`, or -1.
    private var owners = [Int16](repeating: -1, count: HashSlot.count)

    init() {}

    func endpoint(forSlot slot: UInt16) -> RedisEndpoint? {
        let owner = self.owners[Int(slot)]
        return owner < 0 ? nil : self.nodes[Int(owner)]
    }

    var coveredSlots: Int { self.owners.count { $0 >= 0 } }

    var description: String { "ClusterTopology(\(self.nodes.count) masters, \(self.coveredSlots) slots covered)" }

    mutating func assign(_ slots: ClosedRange<Int>, to endpoint: RedisEndpoint) {
        let index: Int
        if let existing = self.nodes.firstIndex(of: endpoint) {
            index = existing
        } else {
            self.nodes.append(endpoint)
            index = self.nodes.count - 1
        }
        for slot in slots where slot >= 0 && slot < HashSlot.count { self.owners[slot] = Int16(index) }
    }

    // MARK: Reading the server's view

    /// `CLUSTER SHARDS`: per shard a map with `slots` (start, end, start, end…) and `nodes` (maps
    /// with `ip`, `endpoint`, `port`, `tls-port`, `role`, `health`). Maps arrive as RESP3 maps or
    /// as RESP2 flat arrays; `pairs` reads both.
    static func fromShards(_ reply: RESPValue, useTLS: Bool) throws(RedisError) -> ClusterTopology {
        guard let shards = reply.array else { throw malformed("CLUSTER SHARDS did not answer an array") }
        var topology = ClusterTopology()
        for shard in shards {
            guard let fields = shard.pairs else { throw malformed("a shard is not a map") }
            var ranges: [Int] = []
            var master: RedisEndpoint?
            for (key, value) in fields {
                switch key.string {
                case "slots":
                    ranges = value.array?.compactMap(\.int) ?? []
                case "nodes":
                    for node in value.array ?? [] {
                        guard let attributes = node.pairs else { continue }
                        var info: [String: RESPValue] = [:]
                        for (name, value) in attributes { if let name = name.string { info[name] = value } }
                        guard info["role"]?.string == "master" else { continue }
                        var host = info["endpoint"]?.string ?? ""
                        if host.isEmpty || host == "?" { host = info["ip"]?.string ?? "" }
                        var port = info["port"]?.int ?? 0
                        if useTLS, let tlsPort = info["tls-port"]?.int, tlsPort > 0 { port = tlsPort }
                        if !host.isEmpty, port > 0 { master = .tcp(host: host, port: port) }
                    }
                default:
                    continue
                }
            }
            guard let master, ranges.count % 2 == 0 else { continue }
            for index in stride(from: 0, to: ranges.count, by: 2) where ranges[index] <= ranges[index + 1] {
                topology.assign(ranges[index]...ranges[index + 1], to: master)
            }
        }
        guard !topology.nodes.isEmpty else { throw malformed("no master serves any slot") }
        return topology
    }

    /// `CLUSTER SLOTS`: per range `[start, end, [host, port, id…], replicas…]`.
    static func fromSlots(_ reply: RESPValue) throws(RedisError) -> ClusterTopology {
        guard let ranges = reply.array else { throw malformed("CLUSTER SLOTS did not answer an array") }
        var topology = ClusterTopology()
        for range in ranges {
            guard let parts = range.array, parts.count >= 3, let start = parts[0].int, let end = parts[1].int,
                let node = parts[2].array, node.count >= 2, let host = node[0].string, let port = node[1].int,
                start <= end, !host.isEmpty
            else { continue }
            topology.assign(start...end, to: .tcp(host: host, port: port))
        }
        guard !topology.nodes.isEmpty else { throw malformed("no master serves any slot") }
        return topology
    }

    private static func malformed(_ detail: String) -> RedisError {
        RedisError(code: .clusterDown, message: detail)
    }
}

/// A MOVED or ASK redirect: `MOVED 3999 127.0.0.1:6381`.
struct ClusterRedirect: Equatable {
    enum Kind: Equatable { case moved, ask }
    var kind: Kind
    var slot: UInt16
    var endpoint: RedisEndpoint

    init?(_ error: RedisError) {
        guard error.code == .server, let message = error.message else { return nil }
        let parts = message.split(separator: " ")
        guard parts.count == 3, let slot = UInt16(parts[1]), Int(slot) < HashSlot.count else { return nil }
        switch parts[0] {
        case "MOVED": self.kind = .moved
        case "ASK": self.kind = .ask
        default: return nil
        }
        var target = parts[2]
        // Redis 7 may announce an unknown endpoint as ":port", meaning "the node you asked".
        if target.hasPrefix(":"), let address = error.address, let colon = address.lastIndex(of: ":") {
            target = Substring(address[..<colon] + target)
        }
        guard let endpoint = RedisEndpoint(hostPort: target) else { return nil }
        self.slot = slot
        self.endpoint = endpoint
    }
}
