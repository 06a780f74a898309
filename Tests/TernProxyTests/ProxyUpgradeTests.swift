import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import TernTestSupport
import XCTest

@testable import TernProxy

/// `Upgrade` requests through the proxy: a WebSocket echo, an upstream that refuses the upgrade,
/// and a large relay both ways with memory bounded.
final class ProxyUpgradeTests: ProxyTestCase {
    func testWebSocketEchoThroughTheProxy() async throws {
        let origin = try await UpgradeOrigin.start()
        self.cleanups.append { try await origin.stop() }
        let (_, port) = try await self.proxy("route / {\n proxy http://127.0.0.1:\(origin.port)\n}")

        let socket = try BlockingSocket(port: port)
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        try socket.send(
            "GET /chat HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        let head = try socket.readHead()
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), head)
        // RFC 6455 §1.3's example key and its accept value: the origin's handshake reached us intact.
        XCTAssertTrue(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), head)
        XCTAssertTrue(head.lowercased().contains("upgrade: websocket"), head)

        for message in ["hello through the proxy", String(repeating: "x", count: 100)] {
            try socket.send(bytes: maskedTextFrame(message))
            let header = try socket.read(exactly: 2)
            XCTAssertEqual(header[0], 0x81, "a final text frame")
            let length = Int(header[1] & 0x7f)
            XCTAssertEqual(length, message.utf8.count)
            let payload = try socket.read(exactly: length)
            XCTAssertEqual(String(decoding: payload, as: UTF8.self), message)
        }
        // A close frame: the origin answers with one and closes; the proxy closes our side too.
        try socket.send(bytes: maskedFrame(opcode: 0x8, payload: [0x03, 0xe8]))
        let close = try socket.read(exactly: 2)
        XCTAssertEqual(close[0] & 0x0f, 0x8)
        _ = try socket.read(exactly: Int(close[1] & 0x7f))
        XCTAssertTrue(try socket.readsEndOfStream(), "the tunnel closes when the origin closes")
    }

    /// The listener's header timer watches HTTP heads only: a tunnel outlives `header-timeout`.
    func testTunnelOutlivesTheHeaderTimeout() async throws {
        let origin = try await UpgradeOrigin.start()
        self.cleanups.append { try await origin.stop() }
        let (_, port) = try await self.proxy("limits {\n header-timeout 300ms\n}\nroute / {\n proxy http://127.0.0.1:\(origin.port)\n}")
        let socket = try BlockingSocket(port: port)
        try socket.send(
            "GET /chat HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        XCTAssertTrue(try socket.readHead().hasPrefix("HTTP/1.1 101"))
        try await Task.sleep(for: .milliseconds(800))
        try socket.send(bytes: maskedTextFrame("still here"))
        let header = try socket.read(exactly: 2)
        XCTAssertEqual(header[0], 0x81)
        XCTAssertEqual(String(decoding: try socket.read(exactly: Int(header[1] & 0x7f)), as: UTF8.self), "still here")
    }

    /// A tunnel silent both ways for the route's `timeout read` is closed; traffic keeps it open.
    func testSilentTunnelIsClosedAfterTheReadTimeout() async throws {
        let origin = try await UpgradeOrigin.start()
        self.cleanups.append { try await origin.stop() }
        let (_, port) = try await self.proxy("route / {\n proxy http://127.0.0.1:\(origin.port)\n timeout read 1s\n}")
        let socket = try BlockingSocket(port: port)
        try socket.send("GET /idle HTTP/1.1\r\nHost: idle.test\r\nConnection: upgrade\r\nUpgrade: x-echo\r\n\r\n")
        let head = try socket.readHead()
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), head)
        for round in 0..<4 {
            // Every 200 ms some bytes: longer in all than the timeout, never silent for it.
            try await Task.sleep(for: .milliseconds(200))
            try socket.send("ping \(round)")
            XCTAssertEqual(String(decoding: try socket.read(exactly: 6), as: UTF8.self), "ping \(round)")
        }
        let started = ContinuousClock.now
        XCTAssertTrue(try socket.readsEndOfStream(), "closed by the proxy")
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, .milliseconds(800), "not before the timeout")
    }

    /// The client half-closes: the origin sees the end of input through the proxy and can still
    /// answer before it closes.
    func testHalfCloseIsPassedOn() async throws {
        let origin = try await UpgradeOrigin.start()
        self.cleanups.append { try await origin.stop() }
        let (_, port) = try await self.proxy("route / {\n proxy http://127.0.0.1:\(origin.port)\n}")
        let socket = try BlockingSocket(port: port)
        try socket.send("GET /half HTTP/1.1\r\nHost: half.test\r\nConnection: upgrade\r\nUpgrade: x-echo\r\n\r\n")
        XCTAssertTrue(try socket.readHead().hasPrefix("HTTP/1.1 101"))
        try socket.send("last words")
        XCTAssertEqual(String(decoding: try socket.read(exactly: 10), as: UTF8.self), "last words")
        socket.shutdownWrite()
        let farewell = "bye after your end"
        XCTAssertEqual(String(decoding: try socket.read(exactly: farewell.utf8.count), as: UTF8.self), farewell)
        XCTAssertTrue(try socket.readsEndOfStream())
    }

    func testUpstreamThatRefusesTheUpgradeAnswersAnOrdinaryResponse() async throws {
        let origin = try await UpgradeOrigin.start()
        self.cleanups.append { try await origin.stop() }
        let (_, port) = try await self.proxy("route / {\n proxy http://127.0.0.1:\(origin.port)\n}")

        let reply = try rawExchange(
            port: port,
            send: "GET /refuse HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 403"), reply)
        XCTAssertTrue(reply.hasSuffix("no upgrade here"), reply)
        XCTAssertTrue(reply.lowercased().contains("connection: close"), reply)
        XCTAssertFalse(reply.lowercased().contains("upgrade: websocket"), reply)
    }

    func testUpgradeToADeadUpstreamIsABadGateway() async throws {
        let dead = try self.deadPort()
        let (_, port) = try await self.proxy("route / {\n proxy http://127.0.0.1:\(dead)\n}")
        let reply = try rawExchange(port: port, send: "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x-echo\r\n\r\n")
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 502"), reply)
    }

    /// 64 MiB each way through an upgraded connection: the origin echoes what it reads, the client
    /// writes only while its channel is writable; client, proxy and origin share this process.
    func testLargeRelayBothWaysWithMemoryBounded() async throws {
        let origin = try await UpgradeOrigin.start()
        self.cleanups.append { try await origin.stop() }
        let (_, port) = try await self.proxy("route / {\n proxy http://127.0.0.1:\(origin.port)\n}")
        let size = 64 << 20
        let before = residentMemory()
        let peak = NIOLockedValueBox(0)

        let group = MultiThreadedEventLoopGroup.singleton
        let done = group.any().makePromise(of: Int.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BulkEchoClient(total: size, done: done, peak: peak))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let received = try await done.futureResult.get()
        try? await channel.close()
        XCTAssertEqual(received, size)
        let grown = max(peak.withLockedValue { $0 }, residentMemory()) - before
        XCTAssertLessThan(grown, 48 << 20, "memory grew by \(grown >> 20) MiB relaying 64 MiB each way")
    }
}

// MARK: The origin

/// An origin that speaks WebSocket (an echo, by NIOWebSocket) and `x-echo` (raw bytes echoed after
/// the `101`), refuses upgrades on `/refuse` with a 403, and answers anything else with a 200.
final class UpgradeOrigin: Sendable {
    let channel: any Channel
    var port: Int { self.channel.localAddress!.port! }

    init(channel: any Channel) { self.channel = channel }

    static func start() async throws -> UpgradeOrigin {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                let websocket = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, head in
                        channel.eventLoop.makeSucceededFuture(head.uri == "/refuse" ? nil : HTTPHeaders())
                    },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            let sync = channel.pipeline.syncOperations
                            sync.removeHandler(try sync.handler(type: PlainResponder.self), promise: nil)
                            try sync.addHandler(WebSocketEchoHandler())
                        }
                    }
                )
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [websocket, RawEchoUpgrader()], completionHandler: { _ in })
                    )
                    try channel.pipeline.syncOperations.addHandler(PlainResponder())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return UpgradeOrigin(channel: channel)
    }

    func stop() async throws { try await self.channel.close() }
}

private final class PlainResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = Self.unwrapInboundIn(data) else { return }
        let refused = head.uri == "/refuse"
        let body = ByteBuffer(string: refused ? "no upgrade here" : "plain")
        var headers = HTTPHeaders([("Content-Length", "\(body.readableBytes)")])
        if refused { headers.add(name: "Connection", value: "close") }
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: refused ? .forbidden : .ok, headers: headers))), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        if refused { context.close(promise: nil) }
    }
}

private final class WebSocketEchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            let reply = WebSocketFrame(fin: true, opcode: frame.opcode, data: frame.unmaskedData)
            context.writeAndFlush(Self.wrapOutboundOut(reply), promise: nil)
        case .connectionClose:
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)
            context.writeAndFlush(Self.wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        default:
            break
        }
    }
}

/// `Upgrade: x-echo`: after the `101`, every byte read is written back, reading only while writable.
private struct RawEchoUpgrader: HTTPServerProtocolUpgrader, Sendable {
    let supportedProtocol = "x-echo"
    let requiredUpgradeHeaders: [String] = []

    func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        channel.eventLoop.makeSucceededFuture(initialResponseHeaders)
    }

    func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        context.eventLoop.makeCompletedFuture {
            let sync = context.pipeline.syncOperations
            sync.removeHandler(try sync.handler(type: PlainResponder.self), promise: nil)
            try sync.addHandler(RawEchoHandler())
        }
    }
}

private final class RawEchoHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var pendingRead = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.write(data, promise: nil) }
    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable { context.read() } else { self.pendingRead = true }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, self.pendingRead {
            self.pendingRead = false
            context.read()
        }
    }

    /// The client is done sending: answer one last line, then close.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: "bye after your end"))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }
}

// MARK: The clients

/// Upgrades to `x-echo`, then writes `total` bytes (position modulo 256) while writable and checks the echo.
private final class BulkEchoClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let total: Int
    private let done: EventLoopPromise<Int>
    private let peak: NIOLockedValueBox<Int>
    private var head = ByteBuffer()
    private var upgraded = false
    private var sent = 0
    private var received = 0
    private var chunks = 0

    init(total: Int, done: EventLoopPromise<Int>, peak: NIOLockedValueBox<Int>) {
        self.total = total
        self.done = done
        self.peak = peak
    }

    func channelActive(context: ChannelHandlerContext) {
        let request = "GET /bulk HTTP/1.1\r\nHost: bulk.test\r\nConnection: upgrade\r\nUpgrade: x-echo\r\n\r\n"
        context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        if !self.upgraded {
            self.head.writeBuffer(&buffer)
            let text = String(buffer: self.head)
            guard let end = text.range(of: "\r\n\r\n") else { return }
            guard text.hasPrefix("HTTP/1.1 101") else {
                self.done.fail(TestFailure(message: "no 101: \(text)"))
                return
            }
            self.upgraded = true
            var rest = self.head
            rest.moveReaderIndex(forwardBy: text.utf8.distance(from: text.startIndex, to: end.upperBound))
            buffer = rest
            self.pump(context: context)
        }
        // The pattern is the byte's position modulo 256: compare a window of the reference with memcmp.
        var offset = 0
        while offset < buffer.readableBytes {
            let count = min(buffer.readableBytes - offset, 65536)
            let start = self.received % 256
            let same = buffer.withUnsafeReadableBytes { bytes in
                Self.reference.withUnsafeBytes { memcmp(bytes.baseAddress! + offset, $0.baseAddress! + start, count) == 0 }
            }
            guard same else {
                self.done.fail(TestFailure(message: "bytes from \(self.received) differ"))
                context.close(promise: nil)
                return
            }
            self.received += count
            offset += count
        }
        self.chunks += 1
        if self.chunks % 256 == 0 {
            let rss = residentMemory()
            self.peak.withLockedValue { $0 = max($0, rss) }
        }
        if self.received == self.total { self.done.succeed(self.received) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if self.upgraded { self.pump(context: context) }
    }

    private static let reference: [UInt8] = (0..<(65536 + 256)).map { UInt8(truncatingIfNeeded: $0) }

    private func pump(context: ChannelHandlerContext) {
        let chunk = ByteBuffer(bytes: Self.reference[0..<65536])
        while self.sent < self.total && context.channel.isWritable {
            self.sent += chunk.readableBytes
            context.writeAndFlush(Self.wrapOutboundOut(chunk), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.done.fail(TestFailure(message: "closed after \(self.received) bytes"))
    }
}

/// A blocking socket with a 5 s receive timeout, for byte-exact exchanges.
final class BlockingSocket {
    private let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int) throws {
        self.fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(self.fd)
            throw TestFailure(message: "connect failed")
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(self.fd) }

    func send(_ text: String) throws { try self.send(bytes: Array(text.utf8)) }

    func shutdownWrite() { _ = Glibc.shutdown(self.fd, Int32(SHUT_WR)) }

    func send(bytes: [UInt8]) throws {
        let n = bytes.withUnsafeBytes { Glibc.send(self.fd, $0.baseAddress, $0.count, 0) }
        guard n == bytes.count else { throw TestFailure(message: "send failed") }
    }

    private func fill() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(self.fd, &buffer, buffer.count, 0)
        if n < 0 { throw TestFailure(message: "recv failed or timed out") }
        if n == 0 { return false }
        self.pending += buffer[0..<n]
        return true
    }

    /// The response head, up to and including the blank line.
    func readHead() throws -> String {
        while true {
            let text = String(decoding: self.pending, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let count = text.utf8.distance(from: text.startIndex, to: end.upperBound)
                self.pending.removeFirst(count)
                return String(text[..<end.upperBound])
            }
            guard try self.fill() else { throw TestFailure(message: "closed before the head: \(text)") }
        }
    }

    func read(exactly count: Int) throws -> [UInt8] {
        while self.pending.count < count {
            guard try self.fill() else { throw TestFailure(message: "closed after \(self.pending.count) of \(count) bytes") }
        }
        let bytes = Array(self.pending.prefix(count))
        self.pending.removeFirst(count)
        return bytes
    }

    func readsEndOfStream() throws -> Bool {
        while self.pending.isEmpty {
            if try !self.fill() { return true }
        }
        return false
    }
}

func maskedTextFrame(_ text: String) -> [UInt8] { maskedFrame(opcode: 0x1, payload: Array(text.utf8)) }

/// A client frame (RFC 6455 §5.2): FIN, the opcode, the mask bit and key, the masked payload (< 126 bytes).
func maskedFrame(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
    precondition(payload.count < 126)
    let mask: [UInt8] = [0x37, 0xfa, 0x21, 0x3d]
    var frame: [UInt8] = [0x80 | opcode, 0x80 | UInt8(payload.count)] + mask
    for (index, byte) in payload.enumerated() { frame.append(byte ^ mask[index % 4]) }
    return frame
}
