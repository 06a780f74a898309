import NIOCore
import NIOHTTP1
import NIOExtras
import TernClient

/// WebSocket and other `Upgrade` requests (RFC 9110 §7.8): the request goes to the upstream on a
/// connection of its own (`Agent.executeUpgrade`), with `Connection: upgrade` and `Upgrade` kept.
/// If the upstream answers `101`, the proxy passes the `101` on, takes the HTTP handlers out of
/// both pipelines and relays bytes both ways (`TunnelRelay`). Any other answer is forwarded as an
/// ordinary response, after which the client connection closes (its decoder stopped at the
/// upgrade request, as llhttp does).
extension ProxyHandler {
    /// Starts the upgrade if `head` is one this proxy tunnels: HTTP/1.1, `Connection: upgrade`,
    /// no body. Returns false to let the ordinary path forward it (without `Upgrade`).
    func beginUpgrade(_ head: HTTPRequestHead, route: CompiledRoute, group: UpstreamGroup, context: ChannelHandlerContext) -> Bool {
        let asksUpgrade = head.headers[canonicalForm: "connection"].contains { ASCII.equals($0, "upgrade") }
        guard asksUpgrade, head.version == .http1_1, let protocols = head.headers.first(name: "upgrade") else { return false }
        let hasBody =
            head.headers.contains(name: "transfer-encoding")
            || (head.headers.first(name: "content-length").map { $0 != "0" } ?? false)
        if hasBody {
            // llhttp stops parsing after an upgrade request: the connection ends with this exchange.
            self.keepAlive = false
            return false
        }
        self.keepAlive = false  // whatever the answer, this connection speaks HTTP no more
        var upstream = HTTPRequestHead(
            version: .http1_1, method: head.method, uri: route.upstreamURI(head.uri),
            headers: self.upstreamFields(head, forwarding: self.loop.runtime.configuration.forwarding)
        )
        HeaderRewriting.apply(route.config.requestHeaders, to: &upstream.headers)
        if case .set(let value) = route.config.hostHeader { upstream.headers.replaceOrAdd(name: "Host", value: value) }
        upstream.headers.replaceOrAdd(name: "Connection", value: "upgrade")
        upstream.headers.replaceOrAdd(name: "Upgrade", value: protocols)
        self.upstreamHead = upstream
        self.balancer = self.loop.balancer(for: group, generation: self.loop.runtime.generation)
        let tunnel = UpgradeTunnel(handler: self, route: route, group: group)
        context.channel.closeFuture.assumeIsolated().whenComplete { _ in tunnel.clientClosed() }
        tunnel.start()
        return true
    }
}

extension ProxyHandler: RemovableChannelHandler {}

/// One upgrade exchange of a `ProxyHandler`, then the tunnel that follows a `101`.
final class UpgradeTunnel: UpgradeDelegate {
    private let handler: ProxyHandler
    private let route: CompiledRoute
    private let group: UpstreamGroup
    private var exchange: UpgradeExchange?
    private var writabilityWatcher: WritabilityWatcher?
    private var upgraded = false

    init(handler: ProxyHandler, route: CompiledRoute, group: UpstreamGroup) {
        self.handler = handler
        self.route = route
        self.group = group
    }

    func start() {
        let handler = self.handler
        guard let balancer = handler.balancer, var head = handler.upstreamHead, let context = handler.context else { return }
        let hashKey: UInt64?
        switch self.group.balance {
        case .hashClientAddress: hashKey = fnv1a(handler.clientAddress.utf8)
        case .hashHeader(let name): hashKey = fnv1a((handler.requestHead?.headers.first(name: name) ?? "").utf8)
        case .roundRobin, .leastConnections: hashKey = nil
        }
        guard let index = balancer.pick(hashKey: hashKey, tried: handler.tried) else {
            handler.respondLocally(handler.lastFailure.map(ProxyHandler.status(for:)) ?? .serviceUnavailable, close: true)
            return
        }
        handler.serverIndex = index
        if index < 64 { handler.tried |= 1 << UInt64(index) }
        balancer.started(index)
        let server = self.group.servers[index]
        if self.route.hostFromUpstream { head.headers.replaceOrAdd(name: "Host", value: server.origin.hostHeader) }
        handler.state = .forwarding
        handler.upstreamWritable = false  // hold the client's reads until the upstream has answered
        let exchange = handler.agent.executeUpgrade(
            head,
            to: server.origin,
            tls: self.group.tls,
            on: context.eventLoop,
            connectTimeout: self.route.connectTimeout,
            readTimeout: self.route.readTimeout,
            delegate: self
        )
        if !exchange.isFinished { self.exchange = exchange }
    }

    func clientClosed() {
        if let exchange = self.exchange {
            self.exchange = nil
            exchange.cancel()
            self.finishServer(failure: nil)
        }
    }

    /// Balancer and health bookkeeping for the server in use.
    private func finishServer(failure: TernClientError?) {
        let handler = self.handler
        guard handler.serverIndex >= 0, let balancer = handler.balancer else { return }
        balancer.finished(handler.serverIndex)
        if let failure, failure.code != .cancelled, self.group.servers.count > 1 {
            self.group.servers[handler.serverIndex].health.recordFailure(now: .now())
        } else if failure == nil {
            self.group.servers[handler.serverIndex].health.recordSuccess()
        }
        handler.serverIndex = -1
    }

    private func responseHeadForClient(_ head: HTTPResponseHead) -> HTTPResponseHead {
        var head = head
        let upgrade = head.status == .switchingProtocols ? head.headers.first(name: "upgrade") : nil
        HeaderRewriting.removeHopByHop(&head.headers)
        if self.handler.loop.runtime.configuration.forwarding.via { HeaderRewriting.appendVia(&head.headers, version: head.version) }
        if self.route.rewritesResponseFields { HeaderRewriting.apply(self.route.config.responseHeaders, to: &head.headers) }
        if let upgrade {
            head.headers.replaceOrAdd(name: "Connection", value: "upgrade")
            head.headers.replaceOrAdd(name: "Upgrade", value: upgrade)
        } else {
            head.headers.replaceOrAdd(name: "Connection", value: "close")
        }
        head.version = self.handler.requestHead?.version ?? .http1_1
        return head
    }

    // MARK: UpgradeDelegate

    func upgraded(_ head: HTTPResponseHead, channel upstream: any Channel, exchange: UpgradeExchange) {
        self.exchange = nil
        let handler = self.handler
        guard !handler.closed, let context = handler.context else {
            upstream.close(promise: nil)
            self.finishServer(failure: nil)
            return
        }
        let server = handler.serverIndex
        let balancer = handler.balancer
        if server >= 0 { self.group.servers[server].health.recordSuccess() }
        handler.serverIndex = -1  // the relay reports the end of the tunnel to the balancer
        handler.responseStatus = 101
        handler.responseHeadSent = true
        handler.loop.metrics?.recordRequest(route: self.route, generation: handler.runtime?.generation ?? 0, status: 101)
        context.writeAndFlush(handler.wrapOutboundOut(.head(self.responseHeadForClient(head))), promise: nil)
        if let log = handler.loop.accessLog, let request = handler.requestHead {
            log.log(
                AccessLogWriter.Entry(
                    client: handler.clientAddress, head: request, status: 101, bytesSent: 0,
                    durationNanoseconds: (NIODeadline.now() - handler.startTime).nanoseconds, upstream: nil
                ),
                date: handler.loop.dateCache.logTimes
            )
        }
        let client = context.channel
        let (clientRelay, upstreamRelay) = TunnelRelay.pair(idleTimeout: self.route.readTimeout, on: context.eventLoop) {
            if server >= 0 { balancer?.finished(server) }
        }
        do {
            try Self.switchToBytes(client, relay: clientRelay)
            try upstream.pipeline.syncOperations.addHandler(upstreamRelay)
            _ = upstream.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            client.read()
        } catch {
            client.close(promise: nil)
            upstream.close(promise: nil)
        }
        self.upgraded = true
    }

    /// The client pipeline after a `101`: the proxy's HTTP handlers out, the relay in. The codec
    /// drops what the client sent early (RFC 6455 §4.1: a client waits for the `101` before it
    /// sends).
    private static func switchToBytes(_ channel: any Channel, relay: TunnelRelay) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(relay)
        func remove<Handler: RemovableChannelHandler>(_ type: Handler.Type) throws {
            sync.removeHandler(try sync.handler(type: type), promise: nil)
        }
        try remove(ProxyHandler.self)
        try remove(HTTP1ServerCodec.self)
        // The listener's guards read HTTP heads: tunnel bytes are not theirs (a WebSocket frame
        // would look like a head that never ends to the header timer).
        for name in [ListenerGuards.headTimerName, ListenerGuards.requestGuardName] {
            if let context = try? sync.context(name: name) { sync.removeHandler(context: context, promise: nil) }
        }
        _ = channel.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
    }

    func responseHead(_ head: HTTPResponseHead, exchange: UpgradeExchange) {
        let handler = self.handler
        guard !handler.closed, let context = handler.context else { return }
        handler.keepAlive = false
        handler.responseStatus = head.status.code
        handler.responseHeadSent = true
        context.write(handler.wrapOutboundOut(.head(self.responseHeadForClient(head))), promise: nil)
    }

    func responseBodyPart(_ buffer: ByteBuffer, exchange: UpgradeExchange) {
        let handler = self.handler
        guard !handler.closed, let context = handler.context else { return }
        handler.bytesSent += buffer.readableBytes
        context.write(handler.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if !context.channel.isWritable {
            exchange.pauseResponseBody()
            if self.writabilityWatcher == nil {
                let watcher = WritabilityWatcher { [weak exchange] in exchange?.resumeResponseBody() }
                self.writabilityWatcher = watcher
                try? context.pipeline.syncOperations.addHandler(watcher)
            }
        }
    }

    func responseReadComplete(exchange: UpgradeExchange) {
        self.handler.context?.flush()
    }

    func responseEnd(_ trailers: HTTPHeaders?, exchange: UpgradeExchange) {
        self.exchange = nil
        self.finishServer(failure: nil)
        let handler = self.handler
        guard !handler.closed, let context = handler.context else { return }
        handler.keepAlive = false
        handler.writeEnd(context: context)
        handler.finishExchange()
    }

    func responseFailed(_ error: TernClientError, exchange: UpgradeExchange) {
        self.exchange = nil
        self.finishServer(failure: error)
        let handler = self.handler
        guard !handler.closed, let context = handler.context else { return }
        if handler.responseHeadSent {
            context.close(promise: nil)
            return
        }
        handler.lastFailure = error
        switch error.phase {
        case .resolve, .connect, .tls:
            self.start()  // the next server, if any is left
        default:
            handler.respondLocally(ProxyHandler.status(for: error), close: true)
        }
    }
}

@available(*, unavailable)
extension UpgradeTunnel: Sendable {}

/// Tells when the channel can take writes again (while a non-101 answer is streamed).
final class WritabilityWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let writable: () -> Void

    init(_ writable: @escaping () -> Void) { self.writable = writable }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.writable() }
        context.fireChannelWritabilityChanged()
    }
}

@available(*, unavailable)
extension WritabilityWatcher: Sendable {}
