import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization
import TernClient

#if canImport(Glibc)
import Glibc
#endif

/// The running proxy: the event loops, one agent on them, the listeners, and the configuration
/// in force. `reload` swaps routes, upstreams, pages and certificates without closing anything;
/// `shutdown` stops accepting, lets in-flight exchanges finish (bounded), then closes the rest.
public final class ProxyServer: Sendable {
    public let group: MultiThreadedEventLoopGroup
    let agent: Agent
    /// The response cache (the top-level `cache` line), shared by every loop; nil: no caching.
    let cache: ProxyCache?
    let loops: [ObjectIdentifier: LoopState]
    /// Active health checks run from this loop only.
    private let healthLoop: any EventLoop
    private let state: Mutex<RunState>
    private let logger: Logger
    /// The admin listener, if configured (Admin/AdminServer.swift).
    private let admin = Mutex<AdminServer?>(nil)
    /// Polls certificate files when `tls-reload-interval` is on (CertificateWatcher.swift).
    private let certificateWatcher = Mutex<CertificateWatcher?>(nil)

    private struct RunState {
        var configuration: ProxyConfiguration
        var generation: Int
        var channels: [any Channel] = []
        var certificateStores: [CertificateStore] = []
        var shutDown = false
        /// One per listener: a helper collects the connections of a single server channel. Released
        /// before the loops stop, because its deinit touches its loop.
        var quiescers: [ServerQuiescingHelper] = []
    }

    public init(configuration: ProxyConfiguration, logger: Logger = Logger(label: "tern.proxy")) throws {
        let threads = configuration.workers ?? System.coreCount
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        var agentConfiguration = Agent.Configuration()
        agentConfiguration.decompression = .disabled
        agentConfiguration.redirects = .disabled
        agentConfiguration.userAgent = nil
        agentConfiguration.poolWaitTimeout = .seconds(10)
        agentConfiguration.maxResponseHeadSize = configuration.limits.maxHeaderSize * 2
        self.agent = Agent(configuration: agentConfiguration, eventLoopGroup: self.group)
        self.healthLoop = self.group.next()
        self.logger = logger
        let runtime: ProxyRuntime
        do {
            runtime = try ProxyRuntime(configuration, generation: 0)
        } catch {
            try? self.group.syncShutdownGracefully()
            throw error
        }
        if configuration.admin.endpoint != nil {
            // Before any pool or cache exists, so their metrics are made by the Prometheus factory.
            ProxyMetricsRegistry.bootstrapOnce()
        }
        let cache: ProxyCache?
        do {
            let group = self.group
            cache = try configuration.cache.map { try ProxyCache(settings: $0, eventLoopGroup: group, logger: logger) }
        } catch {
            try? self.group.syncShutdownGracefully()
            throw ConfigErrors(errors: [ConfigError(location: configuration.cache!.location, message: "cannot use this cache: \(error)")])
        }
        self.cache = cache
        var loops: [ObjectIdentifier: LoopState] = [:]
        let accessFD = Self.openAccessLog(configuration.accessLog)
        for loop in self.group.makeIterator() {
            let writer = accessFD.map { AccessLogWriter(fd: $0, format: configuration.accessLog.format, eventLoop: loop) }
            loops[ObjectIdentifier(loop)] = LoopState(eventLoop: loop, runtime: runtime, accessLog: writer, cache: cache)
        }
        if configuration.admin.endpoint != nil {
            for state in loops.values { state.metrics = LoopMetrics() }
        }
        self.loops = loops
        self.state = Mutex(RunState(configuration: configuration, generation: 0))
    }

    /// Binds every listener; returns their addresses (port 0 in a config binds a free port).
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        for state in self.loops.values {
            state.eventLoop.execute {
                state.accessLog?.start()
                self.startHealthChecks(on: state)
            }
        }
        let configuration = self.state.withLock { $0.configuration }
        var addresses: [SocketAddress] = []
        for listener in configuration.listeners {
            let channel = try await self.bind(listener, limits: configuration.limits)
            if let address = channel.localAddress { addresses.append(address) }
            self.logger.info("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        }
        if let interval = configuration.certificateReloadInterval, !self.certificateTargets().isEmpty {
            let watcher = CertificateWatcher(logger: self.logger) { [weak self] in self?.certificateTargets() ?? [] }
            watcher.start(interval: interval)
            self.certificateWatcher.withLock { $0 = watcher }
        }
        if configuration.admin.endpoint != nil {
            let admin = try await AdminServer.start(configuration.admin, proxy: self, group: self.group)
            self.admin.withLock { $0 = admin }
            self.logger.info("admin listening", metadata: ["address": "\(admin.channel.localAddress.map { "\($0)" } ?? "?")"])
        }
        return addresses
    }

    /// Each ssl listener's certificate store with the certificates of the configuration in force.
    func certificateTargets() -> [CertificateWatcher.Target] {
        self.state.withLock { state in
            let lists = state.configuration.listeners.compactMap { listener -> [ProxyConfiguration.Certificate]? in
                if case .ssl(_, _, let certificates) = listener.endpoint { return certificates }
                return nil
            }
            return zip(state.certificateStores, lists).map { CertificateWatcher.Target(store: $0, certificates: $1) }
        }
    }

    /// The admin listener's address, when there is one.
    public var adminAddress: SocketAddress? { self.admin.withLock { $0?.channel.localAddress } }

    private func bind(_ listener: ProxyConfiguration.Listener, limits: ProxyConfiguration.Limits) async throws -> any Channel {
        let store: CertificateStore?
        if case .ssl(_, _, let certificates) = listener.endpoint {
            store = try CertificateStore(certificates)
        } else {
            store = nil
        }
        let scheme = store == nil ? "http" : "https"
        let agent = self.agent
        let loops = self.loops
        let quiesce = ServerQuiescingHelper(group: self.group)
        let redirectPort = listener.redirectToHTTPSPort
        let guards = ListenerGuards(
            limits: limits, allowList: listener.allowedClients, redis: self.cache?.redisStore, logger: self.logger)
        let connectionLimiter = guards.connectionLimiter()
        let bootstrap = ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(connectionLimiter)
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let store {
                        let sni = ByteToMessageHandler(
                            SNIHandler { result in
                                let name: String? = if case .hostname(let host) = result { host } else { nil }
                                let tls = NIOSSLServerHandler(context: store.context(for: name))
                                return channel.eventLoop.makeCompletedFuture {
                                    let sniContext = try channel.pipeline.syncOperations.context(name: "sni")
                                    try channel.pipeline.syncOperations.addHandler(tls, position: .after(sniContext.handler))
                                }
                            }
                        )
                        try sync.addHandler(sni, name: "sni")
                    }
                    guard let loop = loops[ObjectIdentifier(channel.eventLoop)] else {
                        throw ChannelError.ioOnClosedChannel
                    }
                    try guards.addHTTPHandlers(to: sync, loop: loop)  // header timer, HTTP/1 codec, request guard
                    if let redirectPort {
                        try sync.addHandler(HTTPSRedirectHandler(port: redirectPort))
                    } else {
                        try sync.addHandler(ProxyHandler(agent: agent, loop: loop, scheme: scheme))
                    }
                }
            }
        let channel: any Channel
        do {
            switch listener.endpoint {
            case .tcp(let port, let interface), .ssl(let port, let interface, _):
                channel = try await bootstrap.bind(host: interface, port: port).get()
            case .unix(let path):
                channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            }
        } catch {
            throw CertificateError(location: listener.location, message: "cannot listen: \(error)")
        }
        self.state.withLock { state in
            state.channels.append(channel)
            state.quiescers.append(quiesce)
            if let store { state.certificateStores.append(store) }
        }
        return channel
    }

    /// The listeners in force (a reload keeps them).
    public var configurationListeners: [ProxyConfiguration.Listener] { self.state.withLock { $0.configuration.listeners } }

    /// Applies a new configuration: routes, upstreams, pages, forwarding and certificates. Listener
    /// changes need a restart (logged). A configuration that fails to load leaves the old one serving.
    public func reload(_ configuration: ProxyConfiguration) throws {
        let (generation, stores, old) = self.state.withLock { ($0.generation + 1, $0.certificateStores, $0.configuration) }
        let runtime = try ProxyRuntime(configuration, generation: generation)
        let sslListeners = configuration.listeners.compactMap { listener -> [ProxyConfiguration.Certificate]? in
            if case .ssl(_, _, let certificates) = listener.endpoint { return certificates }
            return nil
        }
        for (store, certificates) in zip(stores, sslListeners) { try store.reload(certificates) }
        if configuration.listeners.map(\.endpoint) != old.listeners.map(\.endpoint) {
            self.logger.warning("listen lines changed: they take effect after a restart")
        }
        if configuration.cache?.store != old.cache?.store || configuration.cache?.memoryTier != old.cache?.memoryTier {
            self.logger.warning("the cache line changed: the new store takes effect after a restart")
        }
        self.state.withLock {
            $0.configuration = configuration
            $0.generation = generation
        }
        self.certificateWatcher.withLock { $0 }?.remember()
        for state in self.loops.values {
            state.eventLoop.execute {
                state.runtime = runtime
                self.startHealthChecks(on: state)
            }
        }
    }

    /// Stops accepting, lets in-flight exchanges finish within `timeout`, then closes what is left.
    public func shutdown(timeout: TimeAmount? = nil) async throws {
        let (configured, already) = self.state.withLock { state in
            defer { state.shutDown = true }
            return (state.configuration.shutdownTimeout.timeAmount, state.shutDown)
        }
        guard !already else { return }
        if let admin = self.admin.withLock({ $0 }) { await admin.stop() }
        self.certificateWatcher.withLock { $0 }?.stop()
        await self.drainListeners(within: timeout ?? configured)
        // Time is up (or all drained): whatever is still open is closed with the loops.
        for state in self.loops.values {
            try? await state.eventLoop.submit { state.accessLog?.stop() }.get()
        }
        try? await self.agent.shutdown()
        await self.cache?.shutdown()
        try await self.group.shutdownGracefully()
    }

    /// Stops accepting and waits, at most `limit`, for every listener's connections to close. The
    /// quiescing helpers leave the state here and are released when this returns: before the loops
    /// stop, because their deinit touches a loop.
    private func drainListeners(within limit: TimeAmount) async {
        let quiescers = self.state.withLock { state in
            defer { state.quiescers = [] }
            return state.quiescers
        }
        let loop = self.group.next()
        let drained = quiescers.map { quiescer in
            let promise = loop.makePromise(of: Void.self)
            quiescer.initiateShutdown(promise: promise)
            return promise.futureResult
        }
        let done = loop.makePromise(of: Void.self)
        let deadline = loop.scheduleTask(in: limit) { done.succeed() }
        EventLoopFuture.andAllComplete(drained, on: loop).cascade(to: done)
        try? await done.futureResult.get()
        deadline.cancel()
    }

    private static func openAccessLog(_ log: ProxyConfiguration.AccessLog) -> Int32? {
        guard let path = log.path else { return nil }
        if path == "stdout" || path == "-" { return STDOUT_FILENO }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        return fd >= 0 ? fd : nil
    }

    // MARK: Active health checks

    /// Each upstream with `health-check` is probed from the first loop only (one probe per
    /// server per interval, not one per loop); the verdict is shared through `ServerHealth`.
    private func startHealthChecks(on state: LoopState) {
        guard state.eventLoop === self.healthLoop else { return }
        let generation = state.runtime.generation
        for group in state.runtime.upstreams.values {
            guard let check = group.healthCheck else { continue }
            for server in group.servers {
                HealthProbe(agent: self.agent, server: server, group: group, check: check, state: state, generation: generation)
                    .schedule(in: .zero)
            }
        }
    }
}
