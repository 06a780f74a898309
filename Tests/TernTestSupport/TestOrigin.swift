import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 origin on 127.0.0.1 for end-to-end tests of the proxy. It answers by path:
/// - `/bytes/N`: N bytes of `x`, streamed in 64 KiB writes, each after the previous one went out;
/// - `/sink`: reads a body of any size without keeping it, answers the byte count;
/// - `/never`: reads the request, never answers;
/// - `/status/N`: that status, with the usual echo body;
/// - `/health`: 200, or 503 when the origin was started `healthy: false`;
/// - `/c/…`: a response shaped by its query, for cache tests (see `TestOrigin+Cache.swift`);
/// - anything else: `NAME METHOD URI` and then one `name: value` line per request header.
public final class TestOrigin: Sendable {
    public let name: String
    public let port: Int
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    let counters: Counters
    private let stopped = Mutex(false)

    final class Counters: Sendable {
        let value = Mutex((connections: 0, requests: 0))
        /// Requests per request target (with its query).
        let perURI = Mutex([String: Int]())
    }

    public static func start(name: String, healthy: Bool = true) async throws -> TestOrigin {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let counters = Counters()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    counters.value.withLock { $0.connections += 1 }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(OriginHandler(name: name, healthy: healthy, counters: counters))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestOrigin(name: name, port: channel.localAddress!.port!, channel: channel, group: group, counters: counters)
    }

    private init(name: String, port: Int, channel: any Channel, group: MultiThreadedEventLoopGroup, counters: Counters) {
        self.name = name
        self.port = port
        self.channel = channel
        self.group = group
        self.counters = counters
    }

    public var connections: Int { self.counters.value.withLock { $0.connections } }
    public var requests: Int { self.counters.value.withLock { $0.requests } }
    /// How many requests reached the origin for this request target.
    public func requests(for uri: String) -> Int { self.counters.perURI.withLock { $0[uri] ?? 0 } }

    /// Closes the listener and stops the loop; a second call does nothing.
    public func stop() async throws {
        guard self.stopped.withLock({ stopped in
            defer { stopped = true }
            return !stopped
        }) else { return }
        try? await self.channel.close()
        try await self.group.shutdownGracefully()
    }
}

final class OriginHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let name: String
    private let healthy: Bool
    let counters: TestOrigin.Counters
    private var head: HTTPRequestHead?
    private var received = 0
    private var remaining = 0
    private var streaming = false

    init(name: String, healthy: Bool, counters: TestOrigin.Counters) {
        self.name = name
        self.healthy = healthy
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.counters.value.withLock { $0.requests += 1 }
            self.counters.perURI.withLock { $0[head.uri, default: 0] += 1 }
            self.head = head
            self.received = 0
        case .body(let buffer):
            self.received += buffer.readableBytes
        case .end:
            guard let head = self.head else { return }
            self.respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
        if path == "/never" { return }
        if path.hasPrefix("/c/") { return self.respondShaped(to: head, context: context) }
        if path.hasPrefix("/bytes/"), let count = Int(path.dropFirst("/bytes/".count)) {
            let headers = HTTPHeaders([("Content-Length", String(count)), ("X-Origin", self.name)])
            context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            self.remaining = count
            self.streaming = true
            self.writeChunk(context: context)
            return
        }
        var status = HTTPResponseStatus.ok
        if path == "/health" && !self.healthy { status = .serviceUnavailable }
        if path.hasPrefix("/status/"), let code = Int(path.dropFirst("/status/".count)) {
            status = HTTPResponseStatus(statusCode: code)
        }
        var text = path == "/sink" ? "\(self.received)" : "\(self.name) \(head.method.rawValue) \(head.uri)\n"
        if path != "/sink" {
            for (name, value) in head.headers { text += "\(name.lowercased()): \(value)\n" }
        }
        let body = ByteBuffer(string: text)
        let headers = HTTPHeaders([
            ("Content-Length", String(body.readableBytes)), ("X-Origin", self.name), ("Connection", "X-Hop"), ("X-Hop", "1"),
        ])
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD { context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// Writes while the channel takes more, then waits for `channelWritabilityChanged`: bounded
    /// memory, and no recursion through write promises that complete at once.
    private func writeChunk(context: ChannelHandlerContext) {
        while self.remaining > 0 && context.channel.isWritable {
            let size = min(self.remaining, 64 * 1024)
            self.remaining -= size
            context.writeAndFlush(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: UInt8(ascii: "x"), count: size)))), promise: nil)
        }
        if self.remaining == 0 && self.streaming {
            self.streaming = false
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if self.streaming && context.channel.isWritable { self.writeChunk(context: context) }
        context.fireChannelWritabilityChanged()
    }
}
