import NIOCore

/// The client's state on one event loop: its pools (one per server), and for a cluster its own
/// copy of the slot map. Touched only on its loop, so it needs no lock.
final class RedisLoop: @unchecked Sendable {
    let eventLoop: any EventLoop
    let configuration: RedisConfiguration
    let factory: RedisConnectionFactory
    private var pools: [RedisEndpoint: RedisPool] = [:]
    private var standalonePool: RedisPool?
    private(set) var topology: ClusterTopology?
    private var refreshing: EventLoopFuture<Void>?
    private(set) var isShutDown = false
    /// Subscriber connections, closed on shutdown.
    var subscribers: [ObjectIdentifier: RedisConnection] = [:]
    /// Commands issued on this loop are encoded here; `sendStandalone` hands it back, and its
    /// storage is reused once the connection has copied the command out.
    private var scratch: ByteBuffer?

    /// The scratch buffer, taken out so that the encoder holds the only reference to it.
    func takeScratch() -> ByteBuffer {
        guard let buffer = self.scratch else { return RedisCommand.allocator.buffer(capacity: 256) }
        self.scratch = nil
        return buffer
    }

    init(eventLoop: any EventLoop, configuration: RedisConfiguration, factory: RedisConnectionFactory) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.factory = factory
    }

    func pool(for endpoint: RedisEndpoint) -> RedisPool {
        if let pool = self.pools[endpoint] { return pool }
        let pool = RedisPool(endpoint: endpoint, eventLoop: self.eventLoop, configuration: self.configuration, factory: self.factory)
        self.pools[endpoint] = pool
        if self.isShutDown { _ = pool.shutdown() }
        return pool
    }

    // MARK: Commands

    func execute(_ command: RedisCommand, usesLibrary: Bool) -> EventLoopFuture<RESPValue> {
        self.eventLoop.assertInEventLoop()
        if self.configuration.cluster {
            return self.executeInCluster(command, usesLibrary: usesLibrary, redirects: 0, asking: nil)
        }
        let pool = self.standalone()
        return self.send(command.bytes, discards: 0, to: pool, usesLibrary: usesLibrary)
    }

    /// The pool of the one server of a standalone configuration, made on first use.
    private func standalone() -> RedisPool {
        if let standalonePool { return standalonePool }
        let pool = self.pool(for: self.configuration.endpoints[0])
        self.standalonePool = pool
        return pool
    }

    /// The fast path of a standalone server: the reply goes straight to the caller's promise.
    func sendStandalone(_ command: RedisCommand, pending: RedisPending) {
        self.eventLoop.assertInEventLoop()
        let pool = self.standalone()
        pool.send(command.bytes, promise: pending)
        self.scratch = command.bytes
    }

    private func send(_ bytes: ByteBuffer, discards: Int, to pool: RedisPool, usesLibrary: Bool) -> EventLoopFuture<RESPValue> {
        if usesLibrary, let loading = self.loadLibrary(on: pool) {
            return loading.assumeIsolated().flatMap { pool.send(bytes, discards: discards) }.nonisolated()
        }
        return pool.send(bytes, discards: discards)
    }

    // MARK: The Lua library

    /// Loads the library on the pool's server unless that is done: nil when it is.
    private func loadLibrary(on pool: RedisPool) -> EventLoopFuture<Void>? {
        if let load = pool.libraryLoad {
            return pool.libraryLoaded ? nil : load
        }
        let load = pool.send(RedisLibrary.loadCommand).map { _ in }
        pool.libraryLoad = load
        load.assumeIsolated().whenComplete { result in
            switch result {
            case .success: pool.libraryLoaded = true
            case .failure: pool.libraryLoad = nil
            }
        }
        return load
    }

    /// After "Function not found" (the server restarted, or someone ran FUNCTION FLUSH): load again.
    func forgetLibrary() {
        for pool in self.pools.values {
            pool.libraryLoad = nil
            pool.libraryLoaded = false
        }
    }

    // MARK: Cluster

    private static let asking: ByteBuffer = {
        var buffer = ByteBuffer()
        buffer.writeStaticString("*1\r\n$6\r\nASKING\r\n")
        return buffer
    }()

    private func executeInCluster(
        _ command: RedisCommand,
        usesLibrary: Bool,
        redirects: Int,
        asking: RedisEndpoint?
    ) -> EventLoopFuture<RESPValue> {
        guard !self.isShutDown else { return self.eventLoop.makeFailedFuture(RedisError(code: .shutdown)) }
        if case .crossSlot = command.routing {
            return self.eventLoop.makeFailedFuture(
                RedisError(code: .crossSlot, message: "the command's keys hash to different slots; use {hash tags} to keep them together")
            )
        }
        guard let topology = self.topology else {
            return self.refreshTopology().assumeIsolated().flatMap {
                self.executeInCluster(command, usesLibrary: usesLibrary, redirects: redirects, asking: asking)
            }.nonisolated()
        }
        let endpoint: RedisEndpoint
        if let asking {
            endpoint = asking
        } else {
            switch command.routing {
            case .slot(let slot):
                guard let owner = topology.endpoint(forSlot: slot) else {
                    self.refreshTopology().whenComplete { _ in }
                    return self.eventLoop.makeFailedFuture(RedisError(code: .clusterDown, message: "no node serves slot \(slot)"))
                }
                endpoint = owner
            case .any, .crossSlot:
                endpoint = topology.nodes[Int.random(in: 0..<topology.nodes.count)]
            }
        }
        let pool = self.pool(for: endpoint)
        var bytes = command.bytes
        var discards = 0
        if asking != nil {
            var prefixed = Self.asking
            prefixed.writeImmutableBuffer(command.bytes)
            bytes = prefixed
            discards = 1
        }
        return self.send(bytes, discards: discards, to: pool, usesLibrary: usesLibrary).assumeIsolated().flatMapError { (error: any Error) -> EventLoopFuture<RESPValue> in
            guard let error = error as? RedisError else { return self.eventLoop.makeFailedFuture(error) }
            if let redirect = ClusterRedirect(error) {
                guard redirects < self.configuration.maxRedirects else {
                    return self.eventLoop.makeFailedFuture(
                        RedisError(code: .tooManyRedirects, address: error.address, message: error.message)
                    )
                }
                switch redirect.kind {
                case .moved:
                    // Patch the map now so the retry goes right, and read the whole map again
                    // since a MOVED rarely comes alone.
                    self.topology?.assign(Int(redirect.slot)...Int(redirect.slot), to: redirect.endpoint)
                    self.refreshTopology().whenComplete { _ in }
                    return self.executeInCluster(command, usesLibrary: usesLibrary, redirects: redirects + 1, asking: nil)
                case .ask:
                    return self.executeInCluster(command, usesLibrary: usesLibrary, redirects: redirects + 1, asking: redirect.endpoint)
                }
            }
            if error.serverErrorPrefix == "TRYAGAIN", redirects < self.configuration.maxRedirects {
                // A multi-key command during a slot migration: the keys are split for a moment.
                return self.eventLoop.scheduleTask(in: .milliseconds(25)) { () }.futureResult.flatMap {
                    self.executeInCluster(command, usesLibrary: usesLibrary, redirects: redirects + 1, asking: asking)
                }
            }
            if error.code == .connection || error.code == .connectionClosed || error.serverErrorPrefix == "CLUSTERDOWN" {
                // The node may have failed over: learn the new masters for the next commands.
                self.refreshTopology().whenComplete { _ in }
            }
            return self.eventLoop.makeFailedFuture(error)
        }.nonisolated()
    }

    /// Reads the slot map again from the first node that answers. Concurrent calls share one read.
    @discardableResult
    func refreshTopology() -> EventLoopFuture<Void> {
        if let refreshing = self.refreshing { return refreshing }
        var candidates = self.topology?.nodes ?? []
        for seed in self.configuration.endpoints where !candidates.contains(seed) { candidates.append(seed) }
        let refresh = self.readTopology(from: candidates, index: 0, lastError: nil)
        self.refreshing = refresh
        refresh.assumeIsolated().whenComplete { _ in self.refreshing = nil }
        return refresh
    }

    private static let shardsCommand: ByteBuffer = {
        var encoder = RedisCommandEncoder("CLUSTER", parts: 2, hashesKeys: false)
        encoder.argument("SHARDS" as StaticString)
        return encoder.command.bytes
    }()

    private static let slotsCommand: ByteBuffer = {
        var encoder = RedisCommandEncoder("CLUSTER", parts: 2, hashesKeys: false)
        encoder.argument("SLOTS" as StaticString)
        return encoder.command.bytes
    }()

    private func readTopology(from candidates: [RedisEndpoint], index: Int, lastError: RedisError?) -> EventLoopFuture<Void> {
        guard index < candidates.count else {
            return self.eventLoop.makeFailedFuture(
                RedisError(
                    code: .clusterDown,
                    address: lastError?.address,
                    message: "cannot read the slot map: \(lastError.map { "\($0)" } ?? "no node")"
                )
            )
        }
        let pool = self.pool(for: candidates[index])
        let useTLS = self.configuration.tls != nil
        return pool.send(Self.shardsCommand).flatMapThrowing { reply throws -> ClusterTopology in
            try ClusterTopology.fromShards(reply, useTLS: useTLS)
        }.assumeIsolated().flatMapError { (error: any Error) -> EventLoopFuture<ClusterTopology> in
            // Before Redis 7: CLUSTER SLOTS.
            guard let error = error as? RedisError, error.code == .server else { return self.eventLoop.makeFailedFuture(error) }
            return pool.send(Self.slotsCommand).flatMapThrowing { reply throws -> ClusterTopology in
                try ClusterTopology.fromSlots(reply)
            }
        }.map { topology in
            self.topology = topology
        }.flatMapError { (error: any Error) -> EventLoopFuture<Void> in
            self.readTopology(from: candidates, index: index + 1, lastError: error as? RedisError)
        }.nonisolated()
    }

    // MARK: Shutting down

    func shutdown() -> EventLoopFuture<Void> {
        self.isShutDown = true
        for subscriber in self.subscribers.values { subscriber.close() }
        self.subscribers.removeAll()
        let futures = self.pools.values.map { $0.shutdown() }
        return EventLoopFuture.andAllComplete(futures, on: self.eventLoop)
    }
}
