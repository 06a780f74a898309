import Logging
import NIOCore

/// The connections to one server on one event loop: the shell around `RedisPoolStateMachine`. It
/// runs only on its loop and takes no lock; it keeps the connections and the reconnect timers the
/// machine names by slot.
final class RedisPool {
    let endpoint: RedisEndpoint
    let address: String
    let eventLoop: any EventLoop
    private let configuration: RedisConfiguration
    private let factory: RedisConnectionFactory
    private var machine: RedisPoolStateMachine
    private var connections: [RedisConnection?]
    private var timers: [Scheduled<Void>?]
    private var lastError: RedisError?
    private var nextConnectionID = 0
    private var shutdownPromise: EventLoopPromise<Void>?
    /// Whether the Lua library is known to be on this server (see `RedisClient+Functions`).
    var libraryLoad: EventLoopFuture<Void>?
    var libraryLoaded = false

    init(endpoint: RedisEndpoint, eventLoop: any EventLoop, configuration: RedisConfiguration, factory: RedisConnectionFactory) {
        self.endpoint = endpoint
        self.address = endpoint.description
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.factory = factory
        self.machine = RedisPoolStateMachine(size: configuration.connectionsPerLoop)
        self.connections = Array(repeating: nil, count: configuration.connectionsPerLoop)
        self.timers = Array(repeating: nil, count: configuration.connectionsPerLoop)
    }

    /// Sends one encoded command (`discards` replies before its own are dropped: `ASKING`'s).
    func send(_ bytes: ByteBuffer, discards: Int = 0, promise: RedisPending) {
        self.eventLoop.assertInEventLoop()
        let wasSticky = self.machine.sticky != nil
        let route = self.machine.route()
        if !wasSticky, self.machine.sticky != nil {
            // One connection takes the rest of this tick's commands (see `RedisPoolStateMachine.sticky`).
            self.eventLoop.assumeIsolated().execute { [self] in self.machine.tickEnded() }
        }
        switch route {
        case .use(let slot):
            self.connections[slot]!.send(bytes, discards: discards, promise: promise)
        case .create(let slot):
            self.create(slot).send(bytes, discards: discards, promise: promise)
        case .failReconnecting:
            var error = self.lastError ?? RedisError(code: .connection, address: self.address)
            error.message = "not connected, reconnecting after: \(error.message ?? "\(error.code)")"
            if error.code != .tls && error.code != .server { error.code = .connection }
            promise.fail(error)
        case .failShutdown:
            promise.fail(RedisError(code: .shutdown, address: self.address))
        }
    }

    func send(_ bytes: ByteBuffer, discards: Int = 0) -> EventLoopFuture<RESPValue> {
        let promise = self.eventLoop.makePromise(of: RESPValue.self)
        self.send(bytes, discards: discards, promise: .value(promise))
        return promise.futureResult
    }

    func shutdown() -> EventLoopFuture<Void> {
        self.eventLoop.assertInEventLoop()
        let promise = self.shutdownPromise ?? self.eventLoop.makePromise()
        self.shutdownPromise = promise
        for index in self.timers.indices {
            self.timers[index]?.cancel()
            self.timers[index] = nil
        }
        self.run(self.machine.shutdown())
        return promise.futureResult
    }

    // MARK: Carrying out actions

    private func run(_ action: RedisPoolStateMachine.Action) {
        switch action {
        case .none:
            break
        case .create(let slot):
            self.create(slot)
        case .scheduleReconnect(let slot, let attempt):
            let delay = RedisPoolStateMachine.backoff(
                attempt: attempt,
                base: self.configuration.reconnectBaseDelay,
                max: self.configuration.reconnectMaxDelay,
                jitter: Double.random(in: 0.5...1)
            )
            self.timers[slot] = self.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
                self.timers[slot] = nil
                self.run(self.machine.reconnectTimerFired(slot))
            }
        case .closeAll(let slots):
            for slot in slots { self.connections[slot]?.close() }
        case .shutdownComplete:
            if let promise = self.shutdownPromise {
                self.shutdownPromise = nil
                promise.succeed()
            }
        }
    }

    private func log(_ error: RedisError, wasReady: Bool, action: RedisPoolStateMachine.Action) {
        let logger = self.configuration.logger
        let metadata: Logger.Metadata = ["redis.address": "\(self.address)", "redis.error": "\(error)"]
        if wasReady {
            if !self.machine.isShuttingDown { logger.info("redis connection lost, reconnecting", metadata: metadata) }
        } else if case .scheduleReconnect(_, let attempt) = action {
            var metadata = metadata
            metadata["redis.attempt"] = "\(attempt)"
            if attempt == 1 {
                logger.warning("redis connection failed, retrying with backoff", metadata: metadata)
            } else {
                logger.debug("redis connection failed again", metadata: metadata)
            }
        }
    }

    @discardableResult
    private func create(_ slot: Int) -> RedisConnection {
        let id = self.nextConnectionID
        self.nextConnectionID += 1
        let connection = RedisConnection(id: id, address: self.address, configuration: self.configuration, eventLoop: self.eventLoop)
        self.connections[slot] = connection
        connection.onReady = { [weak self] _ in
            self?.machine.connectionReady(slot)
        }
        connection.onClose = { [weak self] error in
            guard let self, self.connections[slot] === connection else { return }
            self.connections[slot] = nil
            self.lastError = error
            let wasReady = self.machine.slots[slot] == .ready
            let action = self.machine.connectionClosed(slot)
            self.log(error, wasReady: wasReady, action: action)
            self.run(action)
        }
        self.factory.connect(connection, to: self.endpoint)
        return connection
    }
}

@available(*, unavailable)
extension RedisPool: Sendable {}
