import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import TernClient
import XCTest

/// `Agent.executeUpgrade`: a `101` hands over the channel without its HTTP handlers (bytes that
/// came behind the `101` included); any other answer streams as a response; neither connection is
/// pooled.
final class AgentUpgradeTests: XCTestCase {
    func testSwitchingProtocolsHandsOverTheChannelWithoutHTTPHandlers() async throws {
        let origin = try await UpgradingOrigin.start()
        addTeardownBlock { try await origin.stop() }
        let agent = self.makeAgent()
        let loop = agent.eventLoopGroup.next()

        let result = try await loop.flatSubmit { () -> EventLoopFuture<String> in
            let promise = loop.makePromise(of: String.self)
            let delegate = UpgradeCollector(promise: promise, send: "ping")
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/switch")
            head.headers.add(name: "Connection", value: "upgrade")
            head.headers.add(name: "Upgrade", value: "x-echo")
            _ = agent.executeUpgrade(head, to: Origin(scheme: .http, host: "127.0.0.1", port: origin.port), on: loop, delegate: delegate)
            return promise.futureResult
        }.get()
        XCTAssertEqual(result, "101 codec-free hello;ping")

        // A second upgrade opens a second connection: an upgraded one is never pooled.
        _ = try await loop.flatSubmit { () -> EventLoopFuture<String> in
            let promise = loop.makePromise(of: String.self)
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/switch")
            head.headers.add(name: "Connection", value: "upgrade")
            head.headers.add(name: "Upgrade", value: "x-echo")
            _ = agent.executeUpgrade(
                head, to: Origin(scheme: .http, host: "127.0.0.1", port: origin.port), on: loop,
                delegate: UpgradeCollector(promise: promise, send: "again")
            )
            return promise.futureResult
        }.get()
        XCTAssertEqual(origin.connections, 2)
    }

    func testAnOrdinaryAnswerStreamsAsAResponseAndClosesTheConnection() async throws {
        let origin = try await UpgradingOrigin.start()
        addTeardownBlock { try await origin.stop() }
        let agent = self.makeAgent()
        let loop = agent.eventLoopGroup.next()

        let result = try await loop.flatSubmit { () -> EventLoopFuture<String> in
            let promise = loop.makePromise(of: String.self)
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/plain")
            head.headers.add(name: "Connection", value: "upgrade")
            head.headers.add(name: "Upgrade", value: "something-else")
            _ = agent.executeUpgrade(
                head, to: Origin(scheme: .http, host: "127.0.0.1", port: origin.port), on: loop,
                delegate: UpgradeCollector(promise: promise, send: "")
            )
            return promise.futureResult
        }.get()
        XCTAssertEqual(result, "426 use x-echo end")
        try await self.waitUntil { origin.closed == 1 }
    }

    func testARefusedConnectionFailsWithItsAddress() async throws {
        let agent = self.makeAgent()
        let loop = agent.eventLoopGroup.next()
        let listener = try await ServerBootstrap(group: loop).bind(host: "127.0.0.1", port: 0).get()
        let port = listener.localAddress!.port!
        try await listener.close()
        let result = try await loop.flatSubmit { () -> EventLoopFuture<String> in
            let promise = loop.makePromise(of: String.self)
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
            head.headers.add(name: "Connection", value: "upgrade")
            head.headers.add(name: "Upgrade", value: "x-echo")
            _ = agent.executeUpgrade(
                head, to: Origin(scheme: .http, host: "127.0.0.1", port: port), on: loop,
                delegate: UpgradeCollector(promise: promise, send: "")
            )
            return promise.futureResult
        }.get()
        XCTAssertEqual(result, "failed connectionRefused during connect (127.0.0.1:\(port))")
    }
}

/// Writes down what the agent reports, as one line; on `101` it checks that no HTTP handler is
/// left, sends `send` and waits for the origin's greeting and echo.
private final class UpgradeCollector: UpgradeDelegate {
    private let promise: EventLoopPromise<String>
    private let send: String
    private var text = ""

    init(promise: EventLoopPromise<String>, send: String) {
        self.promise = promise
        self.send = send
    }

    func upgraded(_ head: HTTPResponseHead, channel: any Channel, exchange: UpgradeExchange) {
        let sync = channel.pipeline.syncOperations
        let codecFree =
            (try? sync.handler(type: HTTPRequestEncoder.self)) == nil
        let expected = "hello;" + self.send
        do {
            try sync.addHandler(ByteCollector(expected: expected, promise: self.promise, prefix: "\(head.status.code) \(codecFree ? "codec-free" : "codec") "))
        } catch {
            self.promise.fail(error)
            return
        }
        channel.writeAndFlush(ByteBuffer(string: self.send), promise: nil)
    }

    func responseHead(_ head: HTTPResponseHead, exchange: UpgradeExchange) { self.text = "\(head.status.code) " }
    func responseBodyPart(_ buffer: ByteBuffer, exchange: UpgradeExchange) { self.text += String(buffer: buffer) }
    func responseEnd(_ trailers: HTTPHeaders?, exchange: UpgradeExchange) { self.promise.succeed(self.text + " end") }
    func responseFailed(_ error: TernClientError, exchange: UpgradeExchange) { self.promise.succeed("failed \(error)") }
}

private final class ByteCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let expected: String
    private let promise: EventLoopPromise<String>
    private let prefix: String
    private var received = ""

    init(expected: String, promise: EventLoopPromise<String>, prefix: String) {
        self.expected = expected
        self.promise = promise
        self.prefix = prefix
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.received += String(buffer: Self.unwrapInboundIn(data))
        if self.received.utf8.count >= self.expected.utf8.count {
            self.promise.succeed(self.prefix + self.received)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(ChannelError.eof)
    }
}

/// An origin that switches to `x-echo` (greeting `hello;` in the same write as the `101`, then
/// echoing) and answers anything else with a 426; it counts connections opened and closed.
private final class UpgradingOrigin: Sendable {
    let channel: any Channel
    private let counts: Counts
    var port: Int { self.channel.localAddress!.port! }
    var connections: Int { self.counts.opened.load(ordering: .relaxed) }
    var closed: Int { self.counts.closed.load(ordering: .relaxed) }

    final class Counts: Sendable {
        let opened = Atomic(0)
        let closed = Atomic(0)
    }

    private init(channel: any Channel, counts: Counts) {
        self.channel = channel
        self.counts = counts
    }

    static func start() async throws -> UpgradingOrigin {
        let counts = Counts()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                counts.opened.add(1, ordering: .relaxed)
                channel.closeFuture.whenComplete { _ in counts.closed.add(1, ordering: .relaxed) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [GreetingEchoUpgrader()], completionHandler: { _ in })
                    )
                    try channel.pipeline.syncOperations.addHandler(UpgradeRequired())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return UpgradingOrigin(channel: channel, counts: counts)
    }

    func stop() async throws { try await self.channel.close() }
}

private final class UpgradeRequired: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head = Self.unwrapInboundIn(data) else { return }
        let body = ByteBuffer(string: "use x-echo")
        let headers = HTTPHeaders([("Content-Length", "\(body.readableBytes)")])
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .upgradeRequired, headers: headers))), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
    }
}

private struct GreetingEchoUpgrader: HTTPServerProtocolUpgrader, Sendable {
    let supportedProtocol = "x-echo"
    let requiredUpgradeHeaders: [String] = []

    func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        channel.eventLoop.makeSucceededFuture(initialResponseHeaders)
    }

    func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        context.eventLoop.makeCompletedFuture {
            let sync = context.pipeline.syncOperations
            sync.removeHandler(try sync.handler(type: UpgradeRequired.self), promise: nil)
            try sync.addHandler(Echo())
            // Unflushed: it leaves with the 101, so the agent finds it behind the response head.
            context.channel.write(ByteBuffer(string: "hello;"), promise: nil)
        }
    }
}

private final class Echo: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.writeAndFlush(data, promise: nil) }
}
