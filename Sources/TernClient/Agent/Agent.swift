import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// The agent: an asynchronous HTTP/1.1 client with connection pooling (Twisted's `web.client.Agent`
/// with its `HTTPConnectionPool`). It keeps one pool per origin *on each event loop*, so a request
/// issued on loop L runs over a connection on L: no lock and no thread hop on the hot path.
///
/// Two levels of API: `execute(_:timeout:)` and friends (`async`/`await`, redirects, decompression)
/// for applications, and `execute(_:to:body:on:deadline:delegate:)`, which streams one exchange
/// part by part through a `ResponseDelegate` on the caller's loop, for the proxy.
public final class Agent: Sendable {
    public let configuration: Configuration
    public let eventLoopGroup: any EventLoopGroup
    private let ownsEventLoopGroup: Bool
    /// One table of pools per loop of the group, built once; each is touched only on its own loop.
    private let loops: LoopTable
    private let sslContexts = NIOLockedValueBox<[TLSSettings: NIOSSLContext]>([:])
    /// Read once per request: an atomic load, not a lock.
    let isShutDown = Atomic<Bool>(false)

    /// An agent with its own event loops, one per core.
    public convenience init(configuration: Configuration = Configuration()) {
        self.init(
            configuration: configuration,
            eventLoopGroup: MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount),
            ownsEventLoopGroup: true
        )
    }

    /// An agent with its own `numberOfThreads` event loops (at least one). A command-line fetch of
    /// one URL needs one loop, and starting only that one shortens a short-lived process.
    public convenience init(configuration: Configuration = Configuration(), numberOfThreads: Int) {
        self.init(
            configuration: configuration,
            eventLoopGroup: MultiThreadedEventLoopGroup(numberOfThreads: max(1, numberOfThreads)),
            ownsEventLoopGroup: true
        )
    }

    /// An agent on the given loops, which it does not shut down.
    public convenience init(configuration: Configuration = Configuration(), eventLoopGroup: any EventLoopGroup) {
        self.init(configuration: configuration, eventLoopGroup: eventLoopGroup, ownsEventLoopGroup: false)
    }

    private init(configuration: Configuration, eventLoopGroup: any EventLoopGroup, ownsEventLoopGroup: Bool) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.ownsEventLoopGroup = ownsEventLoopGroup
        self.loops = LoopTable(eventLoopGroup.makeIterator().map { LoopPools(eventLoop: $0) })
    }

    // MARK: The streaming, future-level API

    /// Starts one exchange on `eventLoop`, which must be one of this agent's loops, and must be the
    /// loop this is called on. The head is sent as given, except that `Host` and `User-Agent` are
    /// added when missing and the body framing is set from `body`. Redirects are not followed and
    /// bodies are passed through as they come (decompressed only if the configuration says so).
    /// `maxConnections` sets this origin's pool limit on this loop from now on (nil: keep it; a
    /// new pool starts at `maxConnectionsPerOrigin`).
    public func execute(
        _ head: HTTPRequestHead,
        to origin: Origin,
        tls: TLSSettings? = nil,
        body: RequestBody = .none,
        on eventLoop: any EventLoop,
        deadline: NIODeadline? = nil,
        connectTimeout: TimeAmount? = nil,
        readTimeout: TimeAmount? = nil,
        maxConnections: Int? = nil,
        delegate: any ResponseDelegate
    ) -> RequestExecution {
        self.execute(
            head, to: origin, tls: tls, body: body, on: eventLoop, deadline: deadline, connectTimeout: connectTimeout,
            readTimeout: readTimeout, maxConnections: maxConnections, fieldsAsBytes: false, delegate: delegate)
    }

    /// `execute`, for a delegate that takes the response head's fields as bytes
    /// (`RequestExecution.responseRawFields`) when they come straight from the parser, and for a
    /// caller that knows what `head`'s fields hold (`known`), so that they are not read again; and
    /// for one whose request takes field lines as they came (`lines`, but those whose bit is set
    /// in `omitting`), then `addedLines` whole (in the writer's form, `HTTP1RawFields(writing:)`:
    /// a proxy's own fields, written out once rather than field by field per request), before
    /// `head`'s own fields. `known` must then say what they hold together, and the lines must hold
    /// no framing field.
    package func execute(
        _ head: consuming HTTPRequestHead,
        to origin: Origin,
        tls: TLSSettings? = nil,
        body: RequestBody = .none,
        on eventLoop: any EventLoop,
        deadline: NIODeadline? = nil,
        connectTimeout: TimeAmount? = nil,
        readTimeout: TimeAmount? = nil,
        maxConnections: Int? = nil,
        fieldsAsBytes: Bool,
        known: KnownRequestFields? = nil,
        lines: consuming (HTTP1RawFields, omitting: UInt64)? = nil,
        addedLines: consuming HTTP1RawFields? = nil,
        delegate: any ResponseDelegate
    ) -> RequestExecution {
        // `head`, `lines` and `addedLines` are taken `consuming`: moved into the execution, not
        // copied there and then released by the caller.
        eventLoop.preconditionInEventLoop()
        guard let pools = self.loops.pools(for: eventLoop) else {
            preconditionFailure("Agent.execute: the event loop is not one of this agent's loops")
        }
        let tls = origin.scheme.usesTLS ? (tls ?? self.configuration.tls) : nil
        if !(known?.hasHost ?? head.headers.contains(name: "host")) { head.headers.add(name: "Host", value: origin.hostHeader) }
        if let userAgent = self.configuration.userAgent, !head.headers.contains(name: "user-agent") {
            head.headers.add(name: "User-Agent", value: userAgent)
        }
        // The last pool without the closure that makes one: made, it captured (retained and
        // released) the agent and the loop on every request.
        let pool = pools.lastPool(for: origin, tls: tls) ?? pools.pool(for: origin, tls: tls) { self.makePool(key: $0, on: eventLoop) }
        if let maxConnections, maxConnections > 0, maxConnections != pool.maxConnections { pool.setMaxConnections(maxConnections) }
        let hasLines = lines != nil
        let execution = RequestExecution(
            head: head,
            body: body,
            pool: pool,
            delegate: delegate,
            deadline: deadline,
            connectTimeout: connectTimeout,
            readTimeout: readTimeout,
            fieldsAsBytes: fieldsAsBytes,
            known: known,
            lines: lines,
            addedLines: hasLines ? addedLines : nil
        )
        if self.isShutDown.load(ordering: .acquiring) {
            execution.fail(TernClientError(code: .shutdown, phase: .pool, address: origin.address))
            return execution
        }
        if let error = pool.setupError {
            execution.fail(error)
            return execution
        }
        pool.lease(execution)
        return execution
    }

    private func makePool(key: OriginPool.Key, on eventLoop: any EventLoop) -> OriginPool {
        var sslContext: NIOSSLContext?
        var setupError: TernClientError?
        if let tls = key.tls {
            do {
                sslContext = try self.sslContext(for: tls)
            } catch {
                setupError = error
            }
        }
        let pool = OriginPool(key: key, eventLoop: eventLoop, configuration: self.configuration, sslContext: sslContext)
        pool.setupError = setupError
        return pool
    }

    /// TLS contexts are costly (they load the trust store), so there is one per distinct settings.
    func sslContext(for settings: TLSSettings) throws(TernClientError) -> NIOSSLContext {
        if let context = self.sslContexts.withLockedValue({ $0[settings] }) { return context }
        let context = try TLSContextFactory.makeContext(settings)
        return self.sslContexts.withLockedValue { contexts in
            if let existing = contexts[settings] { return existing }
            contexts[settings] = context
            return context
        }
    }

    // MARK: Shutting down

    /// Stops taking requests, lets those in flight finish, closes every connection, and shuts the
    /// agent's own event loops down.
    public func shutdown() async throws {
        self.isShutDown.store(true, ordering: .releasing)
        var futures: [EventLoopFuture<Void>] = []
        for pools in self.loops.all {
            let loop = pools.eventLoop
            futures.append(loop.flatSubmit { pools.shutdown() })
        }
        if let first = futures.first {
            try await EventLoopFuture.andAllSucceed(futures, on: first.eventLoop).get()
        }
        if self.ownsEventLoopGroup {
            try await self.eventLoopGroup.shutdownGracefully()
        }
    }

    /// The loop to run a request from the async API on: the caller's own, if it is one of ours.
    func pickEventLoop() -> any EventLoop {
        self.eventLoopGroup.any()
    }
}

/// The agent's `LoopPools` by event loop: an open-addressing table, built once and only read after,
/// so that any thread may read it without a lock. One multiplication and usually one comparison per
/// request, where a `Dictionary` hashed the loop's identifier with SipHash (half a percent of the
/// proxy's user time).
struct LoopTable: Sendable {
    /// The loops' identifiers as integers (0: an empty slot), and their pools at the same index.
    private let keys: [UInt]
    private let values: [LoopPools?]
    private let shift: Int
    let all: [LoopPools]

    init(_ pools: [LoopPools]) {
        var capacity = 4
        while capacity < 2 * pools.count { capacity *= 2 }
        self.shift = UInt.bitWidth - capacity.trailingZeroBitCount
        var keys = [UInt](repeating: 0, count: capacity)
        var values = [LoopPools?](repeating: nil, count: capacity)
        for entry in pools {
            let key = Self.key(entry.eventLoop)
            var slot = Self.slot(key, shift: self.shift)
            while keys[slot] != 0 && keys[slot] != key { slot = (slot + 1) & (capacity - 1) }
            keys[slot] = key
            values[slot] = entry
        }
        self.keys = keys
        self.values = values
        self.all = pools
    }

    func pools(for loop: any EventLoop) -> LoopPools? {
        let key = Self.key(loop)
        var slot = Self.slot(key, shift: self.shift)
        while true {
            let found = self.keys[slot]
            if found == key { return self.values[slot] }
            if found == 0 { return nil }
            slot = (slot + 1) & (self.keys.count - 1)
        }
    }

    private static func key(_ loop: any EventLoop) -> UInt { UInt(bitPattern: ObjectIdentifier(loop)) }

    /// Fibonacci hashing: the top bits of the key times 2^64 / φ.
    private static func slot(_ key: UInt, shift: Int) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt(shift)) }
}

/// The pools of one event loop, keyed by origin and TLS settings. Touched only on that loop.
final class LoopPools: @unchecked Sendable {
    let eventLoop: any EventLoop
    private var pools: [OriginPool.Key: OriginPool] = [:]

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    /// The pool used last: a proxy in front of one service asks for the same origin every time,
    /// and comparing with it (its strings usually share storage with the key) costs less than
    /// hashing the key for the table.
    private var last: OriginPool?

    /// The pool asked for last, if it is the one of `origin` with `tls`.
    @inline(__always)
    func lastPool(for origin: Origin, tls: TLSSettings?) -> OriginPool? {
        if let last = self.last, last.key.origin == origin, last.key.tls == tls { return last }
        return nil
    }

    /// The pool of `origin` with `tls`: compared with the last one's key before a key is made (a
    /// copy of the origin, its strings retained and released).
    func pool(for origin: Origin, tls: TLSSettings?, make: (OriginPool.Key) -> OriginPool) -> OriginPool {
        self.eventLoop.assertInEventLoop()
        if let last = self.lastPool(for: origin, tls: tls) { return last }
        let key = OriginPool.Key(origin: origin, tls: tls)
        let pool: OriginPool
        if let existing = self.pools[key] {
            pool = existing
        } else {
            pool = make(key)
            self.pools[key] = pool
        }
        self.last = pool
        return pool
    }

    func shutdown() -> EventLoopFuture<Void> {
        let futures = self.pools.values.map { $0.shutdown() }
        return EventLoopFuture.andAllSucceed(futures, on: self.eventLoop)
    }
}
