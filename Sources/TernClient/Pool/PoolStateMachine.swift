import NIOCore

/// The connection pool of one origin on one event loop, as a pure value: every event returns the
/// `Action` the shell (`OriginPool`) must carry out. It holds no timers, no channels and no clock;
/// the shell keys those by the ids used here. Modelled on AsyncHTTPClient's pool machines.
///
/// Connections go `starting → idle ⇄ leased` and leave the machine when closed or released as not
/// reusable. Idle connections are handed out last-in first-out: the most recently used one is the
/// least likely to have been closed by the server.
struct PoolStateMachine {
    typealias ConnectionID = Int
    typealias WaiterID = Int

    enum ConnectionState: Equatable {
        case starting
        case idle
        case leased
    }

    enum FailReason: Equatable {
        case tooManyWaiters
        case shutdown
        case waitTimeout
        case cancelled
        /// The connection attempt made on this waiter's behalf failed.
        case connectFailed(ConnectionID)
    }

    enum WaiterAction: Equatable {
        case none
        /// Run the waiter's request on this connection.
        case execute(WaiterID, on: ConnectionID)
        /// The waiter is queued: the shell arms its wait timer.
        case queued(WaiterID)
        case fail(WaiterID, FailReason)
        case failAll([WaiterID], FailReason)
    }

    enum ConnectionAction: Equatable {
        case none
        case create(ConnectionID)
        /// The connection became idle: the shell arms its idle timer.
        case park(ConnectionID)
        case close(ConnectionID)
        /// Close a connection that cannot be reused and open its replacement for the waiters.
        case closeAndCreate(close: ConnectionID, create: ConnectionID)
        case closeAll([ConnectionID])
    }

    struct Action: Equatable {
        var waiter: WaiterAction = .none
        var connection: ConnectionAction = .none
        /// The pool is shut down and holds nothing any more.
        var shutdownComplete = false

        static let none = Action()
    }

    private(set) var maxConnections: Int
    let maxWaiters: Int
    private(set) var connections = ConnectionTable<ConnectionState>()
    private(set) var startingCount = 0
    private(set) var leasedCount = 0
    private var idle: [ConnectionID] = []
    private var waiters = CircularBuffer<WaiterID>()
    private var nextConnectionID = 0
    private(set) var isShuttingDown = false

    init(maxConnections: Int, maxWaiters: Int) {
        precondition(maxConnections > 0, "a pool needs room for one connection")
        self.maxConnections = maxConnections
        self.maxWaiters = maxWaiters
    }

    /// A new limit for the connections of this pool (a per-origin override, e.g. the proxy's
    /// `max-conns`). Connections over a lowered limit are not closed; no new ones open until the
    /// count is under it. A raised limit is used by the next lease or release.
    mutating func setMaxConnections(_ limit: Int) {
        precondition(limit > 0, "a pool needs room for one connection")
        self.maxConnections = limit
    }

    var idleCount: Int { self.idle.count }
    var waiterCount: Int { self.waiters.count }
    var isEmpty: Bool { self.connections.isEmpty && self.waiters.isEmpty }

    // MARK: Requests

    /// A request asks for a connection. `allowIdle: false` asks for one that has not sat idle: the
    /// retry after a stale connection failed.
    mutating func lease(_ waiter: WaiterID, allowIdle: Bool = true) -> Action {
        if self.isShuttingDown { return Action(waiter: .fail(waiter, .shutdown)) }
        if allowIdle, let connection = self.idle.popLast() {
            self.set(connection, .leased)
            return Action(waiter: .execute(waiter, on: connection))
        }
        if self.waiters.count >= self.maxWaiters { return Action(waiter: .fail(waiter, .tooManyWaiters)) }
        self.waiters.append(waiter)
        // A new connection for each waiter that the connections already starting will not serve.
        if self.connections.count < self.maxConnections && self.waiters.count > self.startingCount {
            return Action(waiter: .queued(waiter), connection: .create(self.makeConnectionID()))
        }
        if !allowIdle, !self.idle.isEmpty, self.waiters.count > self.startingCount {
            // At the limit, with idle connections that may be as stale as the one that just failed:
            // trade the oldest for a fresh one.
            let oldest = self.idle.removeFirst()
            self.set(oldest, nil)
            return Action(waiter: .queued(waiter), connection: .closeAndCreate(close: oldest, create: self.makeConnectionID()))
        }
        return Action(waiter: .queued(waiter))
    }

    /// A queued request gave up: its wait timer fired, or its task was cancelled.
    mutating func waiterLeft(_ waiter: WaiterID, reason: FailReason) -> Action {
        guard let index = self.waiters.firstIndex(of: waiter) else { return .none }
        self.waiters.remove(at: index)
        return Action(waiter: .fail(waiter, reason))
    }

    // MARK: Connections

    mutating func connectionEstablished(_ connection: ConnectionID) -> Action {
        guard self.connections[connection] == .starting else { return .none }
        if self.isShuttingDown {
            self.set(connection, nil)
            return Action(connection: .close(connection), shutdownComplete: self.isEmpty)
        }
        return self.handOut(connection)
    }

    mutating func connectionFailed(_ connection: ConnectionID) -> Action {
        guard self.connections[connection] != nil else { return .none }
        self.set(connection, nil)
        var action = Action()
        // The oldest waiter gets the honest error; the others keep waiting for what is still to come.
        if let waiter = self.waiters.popFirst() {
            action.waiter = .fail(waiter, .connectFailed(connection))
        }
        action.connection = self.replacementIfNeeded()
        action.shutdownComplete = self.isShuttingDown && self.isEmpty
        return action
    }

    /// A request finished with a leased connection.
    mutating func release(_ connection: ConnectionID, reusable: Bool) -> Action {
        guard self.connections[connection] == .leased else { return .none }
        if !reusable || self.isShuttingDown {
            self.set(connection, nil)
            var action = Action(connection: .close(connection))
            if case .create(let replacement) = self.replacementIfNeeded() {
                action.connection = .closeAndCreate(close: connection, create: replacement)
            }
            action.shutdownComplete = self.isShuttingDown && self.isEmpty
            return action
        }
        return self.handOut(connection)
    }

    /// The channel closed (server close, error, or our own close).
    mutating func connectionClosed(_ connection: ConnectionID) -> Action {
        guard let state = self.connections[connection] else {
            return Action(connection: self.replacementIfNeeded(), shutdownComplete: self.isShuttingDown && self.isEmpty)
        }
        self.set(connection, nil)
        if state == .idle, let index = self.idle.firstIndex(of: connection) { self.idle.remove(at: index) }
        return Action(connection: self.replacementIfNeeded(), shutdownComplete: self.isShuttingDown && self.isEmpty)
    }

    mutating func idleTimeout(_ connection: ConnectionID) -> Action {
        guard self.connections[connection] == .idle, let index = self.idle.firstIndex(of: connection) else {
            return .none
        }
        self.idle.remove(at: index)
        self.set(connection, nil)
        return Action(connection: .close(connection))
    }

    mutating func shutdown() -> Action {
        self.isShuttingDown = true
        var action = Action()
        if !self.waiters.isEmpty {
            action.waiter = .failAll(Array(self.waiters), .shutdown)
            self.waiters.removeAll()
        }
        if !self.idle.isEmpty {
            action.connection = .closeAll(self.idle)
            for id in self.idle { self.set(id, nil) }
            self.idle.removeAll()
        }
        action.shutdownComplete = self.isEmpty
        return action
    }

    // MARK: Helpers

    private mutating func handOut(_ connection: ConnectionID) -> Action {
        if let waiter = self.waiters.popFirst() {
            self.set(connection, .leased)
            return Action(waiter: .execute(waiter, on: connection))
        }
        self.set(connection, .idle)
        self.idle.append(connection)
        return Action(connection: .park(connection))
    }

    private mutating func replacementIfNeeded() -> ConnectionAction {
        guard !self.isShuttingDown, self.waiters.count > self.startingCount,
            self.connections.count < self.maxConnections
        else { return .none }
        return .create(self.makeConnectionID())
    }

    /// Every change of a connection's state goes through here, so the counts stay exact without
    /// scanning the connections on every request.
    private mutating func set(_ id: ConnectionID, _ state: ConnectionState?) {
        let old = state == nil ? self.connections.removeValue(forKey: id) : self.connections.updateValue(state!, forKey: id)
        if old == .starting { self.startingCount -= 1 }
        if old == .leased { self.leasedCount -= 1 }
        if state == .starting { self.startingCount += 1 }
        if state == .leased { self.leasedCount += 1 }
    }

    private mutating func makeConnectionID() -> ConnectionID {
        let id = self.nextConnectionID
        self.nextConnectionID += 1
        self.set(id, .starting)
        return id
    }
}
