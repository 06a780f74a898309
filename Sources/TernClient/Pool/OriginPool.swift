import NIOCore
import NIOSSL

/// The connection pool of one origin (and TLS settings) on one event loop: the shell around
/// `PoolStateMachine`. It runs only on its loop, takes no lock, and keeps the timers and channels
/// the machine names by id.
final class OriginPool {
    struct Key: Hashable {
        var origin: Origin
        var tls: TLSSettings?
    }

    private struct Waiter {
        var execution: RequestExecution
        var timer: Scheduled<Void>?
        var enqueuedAt: NIODeadline
    }

    let eventLoop: any EventLoop
    let key: Key
    let configuration: Agent.Configuration
    let address: String
    private let factory: ConnectionFactory
    private let metrics: PoolMetrics
    private var machine: PoolStateMachine
    private var connections = ConnectionTable<HTTP1Connection>()
    /// How many connections have an idle deadline (`HTTP1Connection.idleDeadline`: when each idle
    /// connection must close). One timer (`idleSweep`) serves them all, re-armed lazily: parking
    /// and leasing a connection per request only write its deadline, rather than scheduling and
    /// cancelling a timer each time.
    private var idleDeadlineCount = 0
    private var idleSweep: Scheduled<Void>?
    private var idleSweepDeadline: NIODeadline?
    private var waiters: [PoolStateMachine.WaiterID: Waiter] = [:]
    private var nextWaiterID = 0
    /// The connect timeout of the request whose lease is being handled, for the connection it opens.
    private var pendingConnectTimeout: TimeAmount?
    private var shutdownPromise: EventLoopPromise<Void>?
    /// Set when the pool cannot work at all (its TLS settings could not be loaded): every request fails with it.
    var setupError: TernClientError?

    init(key: Key, eventLoop: any EventLoop, configuration: Agent.Configuration, sslContext: NIOSSLContext?) {
        self.eventLoop = eventLoop
        self.key = key
        self.configuration = configuration
        self.address = key.origin.address
        self.factory = ConnectionFactory(
            origin: key.origin,
            configuration: configuration,
            sslContext: sslContext,
            tls: key.tls ?? TLSSettings()
        )
        self.metrics = PoolMetrics(origin: key.origin)
        self.machine = PoolStateMachine(
            maxConnections: configuration.maxConnectionsPerOrigin,
            maxWaiters: configuration.maxWaitersPerOrigin
        )
    }

    // MARK: Events

    func lease(_ execution: RequestExecution, fresh: Bool = false) {
        self.eventLoop.assertInEventLoop()
        let id = self.nextWaiterID
        self.nextWaiterID &+= 1
        let action = self.machine.lease(id, allowIdle: !fresh)
        self.pendingConnectTimeout = execution.connectTimeout
        defer { self.pendingConnectTimeout = nil }
        if case .queued = action.waiter {
            execution.enqueued(id)
            let timer = self.eventLoop.assumeIsolated().scheduleTask(in: self.configuration.poolWaitTimeout) { [self] in
                self.run(self.machine.waiterLeft(id, reason: .waitTimeout))
            }
            self.waiters[id] = Waiter(execution: execution, timer: timer, enqueuedAt: .now())
            self.run(action)
        } else if case .execute(_, let connectionID) = action.waiter {
            // The fast path: an idle connection, no queue, no timer.
            let connection = self.connections[connectionID]!
            self.unpark(connection)
            self.metrics.waited(.nanoseconds(0))
            self.updateGauges()
            execution.attach(connection)
        } else if case .fail(_, let reason) = action.waiter {
            execution.fail(self.error(for: reason))
        }
    }

    var maxConnections: Int { self.machine.maxConnections }

    func setMaxConnections(_ limit: Int) {
        self.machine.setMaxConnections(limit)
    }

    func waiterLeft(_ id: PoolStateMachine.WaiterID, error: TernClientError) {
        guard let waiter = self.waiters.removeValue(forKey: id) else { return }
        waiter.timer?.cancel()
        _ = self.machine.waiterLeft(id, reason: .cancelled)
        self.updateGauges()
        waiter.execution.fail(error)
    }

    func release(_ connection: HTTP1Connection, reusable: Bool) {
        self.run(self.machine.release(connection.id, reusable: reusable))
    }

    func shutdown() -> EventLoopFuture<Void> {
        self.eventLoop.assertInEventLoop()
        let promise = self.shutdownPromise ?? self.eventLoop.makePromise()
        self.shutdownPromise = promise
        self.run(self.machine.shutdown())
        return promise.futureResult
    }

    // MARK: Carrying out actions

    private func run(_ action: PoolStateMachine.Action, connectError: TernClientError? = nil) {
        switch action.connection {
        case .none:
            break
        case .create(let id):
            self.create(id)
        case .park(let id):
            self.park(id)
        case .close(let id):
            self.close(id)
        case .closeAndCreate(let old, let new):
            self.close(old)
            self.create(new)
        case .closeAll(let ids):
            for id in ids { self.close(id) }
        }

        switch action.waiter {
        case .none, .queued:
            break
        case .execute(let waiterID, let connectionID):
            guard let waiter = self.waiters.removeValue(forKey: waiterID), let connection = self.connections[connectionID] else {
                break
            }
            waiter.timer?.cancel()
            self.unpark(connection)
            self.metrics.waited(.now() - waiter.enqueuedAt)
            waiter.execution.attach(connection)
        case .fail(let waiterID, let reason):
            if let waiter = self.waiters.removeValue(forKey: waiterID) {
                waiter.timer?.cancel()
                waiter.execution.fail(connectError ?? self.error(for: reason))
            }
        case .failAll(let ids, let reason):
            for id in ids {
                if let waiter = self.waiters.removeValue(forKey: id) {
                    waiter.timer?.cancel()
                    waiter.execution.fail(self.error(for: reason))
                }
            }
        }

        self.updateGauges()
        if action.shutdownComplete, let promise = self.shutdownPromise {
            self.shutdownPromise = nil
            promise.succeed()
        }
    }

    private func create(_ id: PoolStateMachine.ConnectionID) {
        self.factory.makeConnection(id: id, pool: self, on: self.eventLoop, connectTimeout: self.pendingConnectTimeout)
            .hop(to: self.eventLoop)
            .assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let channel):
                guard let connection = try? channel.pipeline.syncOperations.handler(type: HTTP1Connection.self) else {
                    channel.close(promise: nil)
                    self.run(self.machine.connectionFailed(id), connectError: TernClientError(code: .connectFailed, phase: .connect, address: self.address))
                    return
                }
                self.connections[id] = connection
                channel.closeFuture.assumeIsolated().whenComplete { [self] _ in
                    self.forget(connection)
                    self.connections[id] = nil
                    self.run(self.machine.connectionClosed(id))
                }
                self.metrics.connectionOpened()
                self.run(self.machine.connectionEstablished(id))
            case .failure(let error):
                let mapped = error as? TernClientError ?? ConnectionFactory.connectError(error, address: self.address)
                self.run(self.machine.connectionFailed(id), connectError: mapped)
            }
        }
    }

    private func park(_ id: PoolStateMachine.ConnectionID) {
        guard let connection = self.connections[id] else { return }
        var timeout = self.configuration.idleTimeout
        if let hint = connection.keepAliveHint {
            // Close before the server does, so we never race its close with a new request.
            let margin: TimeAmount = hint > .seconds(2) ? hint - .seconds(1) : .nanoseconds(hint.nanoseconds / 2)
            timeout = min(timeout, margin)
        }
        let deadline = NIODeadline.coarseNow() + timeout
        if connection.idleDeadline == nil { self.idleDeadlineCount += 1 }
        connection.idleDeadline = deadline
        if let armed = self.idleSweepDeadline, armed <= deadline { return }
        self.armIdleSweep(deadline)
    }

    /// The connection is in use again: no idle deadline. The sweep stays armed (a lease and a park
    /// per request must not cancel and schedule it each time); finding nothing, it just ends.
    private func unpark(_ connection: HTTP1Connection) {
        guard connection.idleDeadline != nil else { return }
        connection.idleDeadline = nil
        self.idleDeadlineCount -= 1
    }

    /// The connection is gone; when no idle connection is left, neither is the sweep.
    private func forget(_ connection: HTTP1Connection) {
        self.unpark(connection)
        guard self.idleDeadlineCount == 0, let sweep = self.idleSweep else { return }
        sweep.cancel()
        self.idleSweep = nil
        self.idleSweepDeadline = nil
    }

    private func armIdleSweep(_ deadline: NIODeadline) {
        self.idleSweep?.cancel()
        self.idleSweepDeadline = deadline
        self.idleSweep = self.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.idleSweep = nil
            self.idleSweepDeadline = nil
            let now = NIODeadline.now()
            let expired = self.connections.values.filter { $0.idleDeadline.map { $0 <= now } ?? false }.sorted { $0.id < $1.id }
            for connection in expired {
                self.unpark(connection)
                self.run(self.machine.idleTimeout(connection.id))
            }
            if self.idleSweep == nil, let next = self.connections.values.compactMap(\.idleDeadline).min() { self.armIdleSweep(next) }
        }
    }

    private func close(_ id: PoolStateMachine.ConnectionID) {
        guard let connection = self.connections[id] else { return }
        self.forget(connection)
        connection.close()
    }

    private func error(for reason: PoolStateMachine.FailReason) -> TernClientError {
        switch reason {
        case .tooManyWaiters:
            return TernClientError(code: .tooManyWaiters, phase: .pool, address: self.address)
        case .shutdown:
            return TernClientError(code: .shutdown, phase: .pool, address: self.address)
        case .waitTimeout:
            return TernClientError(code: .poolWaitTimeout, phase: .pool, address: self.address)
        case .cancelled:
            return TernClientError(code: .cancelled, phase: .pool, address: self.address)
        case .connectFailed:
            return TernClientError(code: .connectFailed, phase: .connect, address: self.address)
        }
    }

    private func updateGauges() {
        self.metrics.update(
            open: self.machine.connections.count,
            leased: self.machine.leasedCount,
            idle: self.machine.idleCount,
            waiters: self.machine.waiterCount
        )
    }
}

@available(*, unavailable)
extension OriginPool: Sendable {}
