import NIOCore
import NIOPosix

/// A pooled, pipelined Redis client (Twisted's txredis, on SwiftNIO). It keeps one pool per server
/// *on each event loop*, so a command issued on loop L travels over a connection on L: no lock and
/// no thread hop on the hot path. A pool's few connections each carry many commands at once; the
/// replies come back in order and are matched to their commands first in, first out.
///
/// Two levels of API: `async` methods for applications, and the same methods with `on eventLoop:`
/// returning `EventLoopFuture`s for code that runs on the loop (the proxy). Against a cluster
/// (`configuration.cluster`), keys are routed by hash slot, MOVED and ASK are followed, and
/// commands whose keys span slots are refused.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    public let eventLoopGroup: any EventLoopGroup
    private let ownsEventLoopGroup: Bool
    /// One state per loop of the group, built once; each is touched only on its own loop.
    private let loops: [ObjectIdentifier: RedisLoop]

    /// A client on the given loops, which it does not shut down.
    public convenience init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup) throws(RedisError) {
        try self.init(configuration: configuration, eventLoopGroup: eventLoopGroup, ownsEventLoopGroup: false)
    }

    /// A client with its own event loops, one per core.
    public convenience init(configuration: RedisConfiguration) throws(RedisError) {
        try self.init(
            configuration: configuration,
            eventLoopGroup: MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount),
            ownsEventLoopGroup: true
        )
    }

    private init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, ownsEventLoopGroup: Bool) throws(RedisError) {
        try configuration.validate()
        let factory = try RedisConnectionFactory(configuration: configuration)
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.ownsEventLoopGroup = ownsEventLoopGroup
        var loops: [ObjectIdentifier: RedisLoop] = [:]
        for loop in eventLoopGroup.makeIterator() {
            loops[ObjectIdentifier(loop)] = RedisLoop(eventLoop: loop, configuration: configuration, factory: factory)
        }
        self.loops = loops
    }

    // MARK: Running commands

    /// Runs a command on `eventLoop` (one of the client's loops), hopping there if called elsewhere.
    func execute(_ command: RedisCommand, on eventLoop: any EventLoop, usesLibrary: Bool = false) -> EventLoopFuture<RESPValue> {
        guard let loop = self.loops[ObjectIdentifier(eventLoop)] else {
            return eventLoop.makeFailedFuture(
                RedisError(code: .invalidConfiguration, message: "the event loop is not one of this client's loops")
            )
        }
        if eventLoop.inEventLoop {
            return loop.execute(command, usesLibrary: usesLibrary)
        }
        return eventLoop.flatSubmit { loop.execute(command, usesLibrary: usesLibrary) }
    }

    /// Runs a command whose reply the connection converts itself (`RedisPending`): on a standalone
    /// server, called on the loop, the reply completes the caller's promise directly. Elsewhere it
    /// takes the general path and converts after.
    func execute<T: Sendable>(
        _ command: RedisCommand,
        on eventLoop: any EventLoop,
        pending: (EventLoopPromise<T>) -> RedisPending,
        convert: @escaping @Sendable (RESPValue) throws -> T
    ) -> EventLoopFuture<T> {
        if !self.configuration.cluster, eventLoop.inEventLoop, let loop = self.loops[ObjectIdentifier(eventLoop)] {
            let promise = eventLoop.makePromise(of: T.self)
            loop.sendStandalone(command, pending: pending(promise))
            return promise.futureResult
        }
        return self.execute(command, on: eventLoop).flatMapThrowing(convert)
    }

    /// An encoder for a command issued on `eventLoop`: on the loop itself (the hot path), it reuses
    /// the loop's scratch buffer instead of allocating one per command.
    func encoder(_ name: StaticString, parts: Int, capacity: Int = 64, on eventLoop: any EventLoop) -> RedisCommandEncoder {
        if !self.configuration.cluster, eventLoop.inEventLoop, let loop = self.loops[ObjectIdentifier(eventLoop)] {
            return RedisCommandEncoder(name, parts: parts, hashesKeys: false, reusing: loop.takeScratch())
        }
        return RedisCommandEncoder(name, parts: parts, hashesKeys: self.hashesKeys, capacity: capacity)
    }

    /// Runs `body` with the state of `eventLoop`, on that loop.
    func withLoop<T: Sendable>(_ eventLoop: any EventLoop, _ body: @escaping @Sendable (RedisLoop) -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        guard let loop = self.loops[ObjectIdentifier(eventLoop)] else {
            return eventLoop.makeFailedFuture(
                RedisError(code: .invalidConfiguration, message: "the event loop is not one of this client's loops")
            )
        }
        if eventLoop.inEventLoop { return body(loop) }
        return eventLoop.flatSubmit { body(loop) }
    }

    /// The loop for a call from `async` code: the caller's own, if it is one of ours.
    var anyEventLoop: any EventLoop { self.eventLoopGroup.any() }

    var hashesKeys: Bool { self.configuration.cluster }

    // MARK: Shutting down

    /// Fails what is queued, closes every connection and subscription, and shuts the client's own
    /// event loops down. Commands issued afterwards fail with `.shutdown`.
    public func shutdown() async throws {
        var futures: [EventLoopFuture<Void>] = []
        for loop in self.loops.values {
            futures.append(loop.eventLoop.flatSubmit { loop.shutdown() })
        }
        if let first = futures.first {
            try await EventLoopFuture.andAllComplete(futures, on: first.eventLoop).get()
        }
        if self.ownsEventLoopGroup {
            try await self.eventLoopGroup.shutdownGracefully()
        }
    }
}
