import Foundation
import Mustache
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import TernClient

/// The admin listener (`admin tcp:9901:interface=127.0.0.1`): plain HTTP/1.1, `GET /metrics` in
/// Prometheus text format and `GET /status` as an HTML page; clients outside `admin-allow` (by
/// default loopback only) get 403. It runs on the proxy's loops but never on the request path.
final class AdminServer: Sendable {
    let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    static func start(_ admin: ProxyConfiguration.Admin, proxy: ProxyServer, group: any EventLoopGroup) async throws -> AdminServer {
        guard let endpoint = admin.endpoint else { throw CertificateError(location: admin.location, message: "no admin endpoint") }
        let allow = admin.allow
        let startedAt = NIODeadline.now()
        let page = try StatusPage.load()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let allowed = channel.remoteAddress != nil && allow.allows(channel.remoteAddress)
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        AdminHandler(proxy: proxy, allowed: allowed, startedAt: startedAt, page: page)
                    )
                }
            }
        let channel: any Channel
        do {
            switch endpoint {
            case .tcp(let port, let interface), .ssl(let port, let interface, _):
                channel = try await bootstrap.bind(host: interface, port: port).get()
            case .unix(let path):
                channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            }
        } catch {
            throw CertificateError(location: admin.location, message: "cannot listen for admin: \(error)")
        }
        return AdminServer(channel: channel)
    }

    func stop() async {
        try? await self.channel.close()
    }
}

/// One admin connection. Requests are few and small: simplicity over speed here.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let proxy: ProxyServer
    private let allowed: Bool
    private let startedAt: NIODeadline
    private let page: StatusPage
    private var head: HTTPRequestHead?

    init(proxy: ProxyServer, allowed: Bool, startedAt: NIODeadline, page: StatusPage) {
        self.proxy = proxy
        self.allowed = allowed
        self.startedAt = startedAt
        self.page = page
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            self.answer(head, context: context)
        }
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard self.allowed else {
            return self.respond(head, .forbidden, "the admin listener does not serve this address\n", context: context)
        }
        guard head.method.isGET || head.method.isHEAD else {
            return self.respond(head, .methodNotAllowed, "only GET and HEAD\n", context: context)
        }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        switch path {
        case "/metrics":
            var bytes: [UInt8] = []
            ProxyMetricsRegistry.shared.emit(into: &bytes)
            self.respond(head, .ok, ByteBuffer(bytes: bytes), type: "text/plain; version=0.0.4; charset=utf-8", context: context)
        case "/status":
            let uptime = NIODeadline.now() - self.startedAt
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            self.proxy.inFlightCounts().hop(to: context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(let (runtime, inFlight)):
                    let html = handler.page.render(
                        runtime: runtime, loops: handler.proxy.loops.count, uptime: uptime, inFlight: inFlight
                    )
                    handler.respond(head, .ok, ByteBuffer(string: html), type: "text/html; charset=utf-8", context: context)
                case .failure(let error):
                    handler.respond(head, .internalServerError, "cannot gather the status: \(error)\n", context: context)
                }
            }
        default:
            self.respond(head, .notFound, "the admin listener serves /metrics and /status\n", context: context)
        }
    }

    private func respond(_ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ text: String, context: ChannelHandlerContext) {
        self.respond(request, status, ByteBuffer(string: text), type: "text/plain; charset=utf-8", context: context)
    }

    private func respond(
        _ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ body: ByteBuffer, type: String, context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if !request.method.isHEAD { context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let written = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if !request.isKeepAlive { written.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension AdminHandler: Sendable {}

extension ProxyServer {
    /// The configuration in force (read on its loop) and the exchanges under way per upstream name
    /// and server index, summed over the loops.
    func inFlightCounts() -> EventLoopFuture<(ProxyRuntime, [String: [Int]])> {
        let states = Array(self.loops.values)
        let futures = states.map { state in
            state.eventLoop.submit { () -> (ProxyRuntime, [String: [Int]]) in
                let runtime = state.runtime
                var counts: [String: [Int]] = [:]
                for (name, group) in runtime.upstreams {
                    counts[name] = state.balancer(for: group, generation: runtime.generation).active
                }
                return (runtime, counts)
            }
        }
        return EventLoopFuture.whenAllSucceed(futures, on: self.group.any()).map { perLoop in
            var total: [String: [Int]] = [:]
            // The newest configuration any loop has (a reload reaches the loops one by one).
            let runtime = perLoop.map(\.0).max { $0.generation < $1.generation }!
            for (_, counts) in perLoop {
                for (name, active) in counts {
                    var sum = total[name] ?? Array(repeating: 0, count: active.count)
                    for index in active.indices where index < sum.count { sum[index] += active[index] }
                    total[name] = sum
                }
            }
            return (runtime, total)
        }
    }
}

/// `/status`, from the shipped `Templates/status.mustache` (HTML stays out of code).
struct StatusPage: Sendable {
    let template: MustacheTemplate

    /// `Pages/Templates/status.mustache`, compiled into the binary (`PackageResources`).
    static func load() throws -> StatusPage {
        StatusPage(template: try MustacheTemplate(string: String(decoding: PackageResources.status_mustache, as: UTF8.self)))
    }

    func render(runtime: ProxyRuntime, loops: Int, uptime: TimeAmount, inFlight: [String: [Int]]) -> String {
        let configuration = runtime.configuration
        let listeners: [[String: Any]] = configuration.listeners.map {
            ["endpoint": Self.describe($0.endpoint), "location": "\($0.location)"]
        }
        let routes: [[String: Any]] = configuration.routes.map { route in
            let host: String
            switch route.host {
            case .any: host = ""
            case .exact(let name): host = name
            case .suffix(let suffix): host = "*" + suffix
            }
            let action: String
            switch route.action {
            case .proxy(let upstream): action = "proxy \(upstream)"
            case .respond(let status, _): action = "respond \(status)"
            }
            return ["route": host + route.pathPrefix, "action": action]
        }
        let upstreams: [[String: Any]] = runtime.upstreams.keys.sorted().compactMap { name in
            guard let group = runtime.upstreams[name] else { return nil }
            let counts = inFlight[name] ?? []
            let servers: [[String: Any]] = group.servers.enumerated().map { index, server in
                [
                    "address": server.origin.description,
                    "weight": "\(server.weight)",
                    "health": server.health.isUp() ? "up" : "down",
                    "inFlight": "\(index < counts.count ? counts[index] : 0)",
                ]
            }
            return ["name": name, "balance": Self.describe(group.balance), "servers": servers]
        }
        return self.template.render([
            "uptime": Self.describe(uptime),
            "generation": "\(runtime.generation)",
            "workers": "\(loops)",
            "listeners": listeners,
            "routes": routes,
            "upstreams": upstreams,
            "version": ternVersion,
        ])
    }

    static func describe(_ endpoint: ProxyConfiguration.Listener.Endpoint) -> String {
        switch endpoint {
        case .tcp(let port, let interface): return "tcp:\(port):interface=\(interface)"
        case .ssl(let port, let interface, let certificates): return "ssl:\(port):interface=\(interface) (\(certificates.count) certificates)"
        case .unix(let path): return "unix:\(path)"
        }
    }

    static func describe(_ balance: ProxyConfiguration.Balance) -> String {
        switch balance {
        case .roundRobin: return "round-robin"
        case .leastConnections: return "least-conn"
        case .hashClientAddress: return "hash client-ip"
        case .hashHeader(let name): return "hash header \(name)"
        }
    }

    static func describe(_ time: TimeAmount) -> String {
        let seconds = time.nanoseconds / 1_000_000_000
        let (days, hours, minutes) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60)
        if days > 0 { return "\(days)d \(hours)h \(minutes)m" }
        if hours > 0 { return "\(hours)h \(minutes)m \(seconds % 60)s" }
        if minutes > 0 { return "\(minutes)m \(seconds % 60)s" }
        return "\(seconds)s"
    }
}
