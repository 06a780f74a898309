import NIOCore

/// The connections to one server on one event loop, as a pure value. A Redis pool differs from an
/// HTTP one: a connection is never leased, it carries many commands at once, so the pool only
/// picks one (round robin), opens connections lazily, and reconnects with backoff.
///
/// Each of `size` slots goes `empty → connecting → ready`; a connection that fails to open puts its
/// slot in `waiting` for a backoff delay that doubles per consecutive failure; one that closes after
/// it was ready is replaced at once. While every slot waits, commands fail at once with the last
/// connect error instead of piling up: for a cache, a fast miss beats a slow one.
struct RedisPoolStateMachine {
    enum SlotState: Equatable {
        case empty
        case connecting
        case ready
        /// Backing off after `attempt` consecutive failures.
        case waiting(attempt: Int)
    }

    enum RouteAction: Equatable {
        case use(Int)
        /// Open a connection in this slot, then use it (it queues the command until ready).
        case create(Int)
        case failReconnecting
        case failShutdown
    }

    enum Action: Equatable {
        case none
        case create(Int)
        /// Arm the reconnect timer of the slot; the delay comes from `backoff(attempt:…)`.
        case scheduleReconnect(Int, attempt: Int)
        case closeAll([Int])
        case shutdownComplete
    }

    let size: Int
    private(set) var slots: [SlotState]
    private var failures: [Int]
    private var next = 0
    /// The slot that takes every command until the loop's current tick ends, so that the commands
    /// of one tick leave in one write instead of one write per connection they were spread over.
    private(set) var sticky: Int?
    private(set) var isShuttingDown = false

    init(size: Int) {
        precondition(size > 0)
        self.size = size
        self.slots = Array(repeating: .empty, count: size)
        self.failures = Array(repeating: 0, count: size)
    }

    var liveCount: Int { self.slots.count { $0 == .connecting || $0 == .ready } }

    mutating func route() -> RouteAction {
        if self.isShuttingDown { return .failShutdown }
        if let sticky = self.sticky, self.slots[sticky] == .ready || self.slots[sticky] == .connecting {
            return .use(sticky)
        }
        let action = self.roundRobin()
        switch action {
        case .use(let slot), .create(let slot): self.sticky = slot
        default: self.sticky = nil
        }
        return action
    }

    /// The loop finished the tick: the next command moves on to the next connection.
    mutating func tickEnded() {
        self.sticky = nil
    }

    private mutating func roundRobin() -> RouteAction {
        for offset in 0..<self.size {
            let index = (self.next + offset) % self.size
            switch self.slots[index] {
            case .ready, .connecting:
                self.next = index + 1 == self.size ? 0 : index + 1
                return .use(index)
            case .empty:
                self.next = index + 1 == self.size ? 0 : index + 1
                self.slots[index] = .connecting
                return .create(index)
            case .waiting:
                continue
            }
        }
        return .failReconnecting
    }

    mutating func connectionReady(_ slot: Int) {
        guard self.slots[slot] == .connecting else { return }
        self.slots[slot] = .ready
        self.failures[slot] = 0
    }

    /// The slot's connection closed: failed to open or to handshake (`wasReady == false`), or lost.
    mutating func connectionClosed(_ slot: Int) -> Action {
        let wasReady = self.slots[slot] == .ready
        guard wasReady || self.slots[slot] == .connecting else { return .none }
        if self.isShuttingDown {
            self.slots[slot] = .empty
            return self.liveCount == 0 ? .shutdownComplete : .none
        }
        if wasReady {
            // A connection that worked: replace it at once, for the commands still coming.
            self.slots[slot] = .connecting
            return .create(slot)
        }
        self.failures[slot] += 1
        self.slots[slot] = .waiting(attempt: self.failures[slot])
        return .scheduleReconnect(slot, attempt: self.failures[slot])
    }

    mutating func reconnectTimerFired(_ slot: Int) -> Action {
        guard case .waiting = self.slots[slot], !self.isShuttingDown else { return .none }
        self.slots[slot] = .connecting
        return .create(slot)
    }

    mutating func shutdown() -> Action {
        self.isShuttingDown = true
        var live: [Int] = []
        for index in self.slots.indices {
            switch self.slots[index] {
            case .connecting, .ready: live.append(index)
            case .waiting, .empty: self.slots[index] = .empty
            }
        }
        return live.isEmpty ? .shutdownComplete : .closeAll(live)
    }

    /// The delay before reconnect attempt `attempt` (1 for the first): `base · 2^(attempt-1)`,
    /// at most `max`, scaled by `jitter` in [0.5, 1] so clients that lost the server together do
    /// not all come back in the same millisecond.
    static func backoff(attempt: Int, base: TimeAmount, max: TimeAmount, jitter: Double) -> TimeAmount {
        let exponent = Swift.min(Swift.max(attempt - 1, 0), 30)
        let (scaled, overflow) = base.nanoseconds.multipliedReportingOverflow(by: Int64(1) << exponent)
        let capped = overflow ? max.nanoseconds : Swift.min(scaled, max.nanoseconds)
        return .nanoseconds(Int64(Double(capped) * Swift.min(Swift.max(jitter, 0.5), 1)))
    }
}
