import NIOCore

/// Balancing state of one upstream on one event loop: smooth weighted round robin (nginx's),
/// in-flight counts for least-connections, and the choice itself. Each loop balances its own
/// share, as nginx workers do; touched only on its loop.
final class LoopBalancer {
    let group: UpstreamGroup
    private var currentWeights: [Int]
    private(set) var active: [Int]

    init(group: UpstreamGroup) {
        self.group = group
        self.currentWeights = Array(repeating: 0, count: group.servers.count)
        self.active = Array(repeating: 0, count: group.servers.count)
    }

    /// The server for a request, skipping servers that are down and those in `tried` (a bit per
    /// server index, for failover). nil: no usable server.
    func pick(hashKey: UInt64?, tried: UInt64) -> Int? {
        let servers = self.group.servers
        func usable(_ index: Int) -> Bool {
            (index >= 64 || tried & (1 << UInt64(index)) == 0) && servers[index].health.isUp()
        }
        switch self.group.balance {
        case .roundRobin:
            // One server: the weights cannot change the answer (its current weight gains its weight
            // and loses the same total at once), so they are left alone.
            if servers.count == 1 { return usable(0) ? 0 : nil }
            var best = -1
            var total = 0
            for index in servers.indices where usable(index) {
                self.currentWeights[index] += servers[index].weight
                total += servers[index].weight
                if best < 0 || self.currentWeights[index] > self.currentWeights[best] { best = index }
            }
            guard best >= 0 else { return nil }
            self.currentWeights[best] -= total
            return best
        case .leastConnections:
            var best = -1
            for index in servers.indices where usable(index) {
                // active/weight compared without division.
                if best < 0 || self.active[index] * servers[best].weight < self.active[best] * servers[index].weight {
                    best = index
                }
            }
            return best >= 0 ? best : nil
        case .hashClientAddress, .hashHeader:
            var chosen: Int?
            self.group.ring?.walk(from: hashKey ?? 0) { index in
                if usable(index) { chosen = index }
                return chosen != nil
            }
            return chosen
        }
    }

    func started(_ index: Int) { self.active[index] += 1 }

    func finished(_ index: Int) { self.active[index] -= 1 }
}
