// ProxyFloor: the least an HTTP/1.1 reverse proxy built on SwiftNIO's channels can spend.
//
//   ProxyFloor PORT UPSTREAM_PORT [TLS_PORT KEY_PEM CERT_PEM]
//
// Listens on 127.0.0.1:PORT (and with TLS on TLS_PORT: NIOSSL's server handler, nothing else in
// front) and forwards to 127.0.0.1:UPSTREAM_PORT over plain keep-alive connections.
//
// Not a proxy anyone should run: scripts/bench-proxy.sh measures it beside nginx and tern, the way
// bench-agent measures a bare recv(2) loop beside the two clients. It does the I/O every NIO proxy
// must do per request (read the request from the client's channel, write it on a pooled keep-alive
// upstream channel, read the response, write it to the client, one flush per read cycle, backpressure
// by writability) and nothing else: no parsing beyond finding a head's end and the response's
// Content-Length, no header rules (no hop-by-hop removal, no X-Forwarded-*, no Via), no routing,
// no timeouts, no limits, no logs, no metrics. GET only; a request with a body, or a response
// without Content-Length, closes the connection. One event loop, one thread.
//
// So tern's CPU per request minus the floor's is what tern's own code costs, and the floor's
// minus nginx's is what NIO's channel layer costs over nginx's.

import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where `needle` starts in `buffer`'s readable bytes, or nil (memchr for its first byte, then a compare).
func find(_ needle: StaticString, in buffer: ByteBuffer) -> Int? {
    let count = needle.utf8CodeUnitCount
    return buffer.withUnsafeReadableBytes { bytes -> Int? in
        guard let base = bytes.baseAddress, bytes.count >= count else { return nil }
        var offset = 0
        while offset + count <= bytes.count {
            guard let hit = memchr(base + offset, Int32(needle.utf8Start.pointee), bytes.count - offset - count + 1) else { return nil }
            let at = base.distance(to: UnsafeRawPointer(hit))
            if memcmp(base + at, needle.utf8Start, count) == 0 { return at }
            offset = at + 1
        }
        return nil
    }
}

/// The value of the head's Content-Length field (any case), or nil. `head` ends at its blank line.
func contentLength(_ head: UnsafeRawBufferPointer) -> Int? {
    let name = Array("content-length:".utf8)
    var index = 0
    while index < head.count {
        // At the start of a line.
        var matched = 0
        while matched < name.count, index + matched < head.count, head[index + matched] | 0x20 == name[matched] | 0x20 {
            matched += 1
        }
        if matched == name.count {
            var cursor = index + matched
            while cursor < head.count, head[cursor] == 0x20 { cursor += 1 }
            var value = 0
            var digits = 0
            while cursor < head.count, head[cursor] >= 0x30, head[cursor] <= 0x39 {
                value = value * 10 + Int(head[cursor] - 0x30)
                cursor += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        while index < head.count, head[index] != 0x0A { index += 1 }
        index += 1
    }
    return nil
}

/// The idle upstream connections of the one event loop.
final class UpstreamPool {
    let eventLoop: any EventLoop
    let port: Int
    var idle: [Upstream] = []

    init(eventLoop: any EventLoop, port: Int) {
        self.eventLoop = eventLoop
        self.port = port
    }

    func lease(for downstream: Downstream, _ head: ByteBuffer) {
        while let upstream = self.idle.popLast() {
            if upstream.context != nil {
                upstream.start(head, for: downstream)
                return
            }
        }
        let pool = NIOLoopBound(self, eventLoop: self.eventLoop)
        let downstream = NIOLoopBound(downstream, eventLoop: self.eventLoop)
        ClientBootstrap(group: self.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Upstream(pool: pool.value))
                }
            }
            .connect(host: "127.0.0.1", port: self.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    let upstream = try! channel.pipeline.syncOperations.handler(type: Upstream.self)
                    upstream.start(head, for: downstream.value)
                case .failure:
                    downstream.value.close()
                }
            }
    }
}

/// One upstream connection: forwards the response of the request it was given, then goes idle.
final class Upstream: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let pool: UpstreamPool
    var context: ChannelHandlerContext?
    var downstream: Downstream?
    /// Body bytes still to come; nil while the head is awaited.
    var remaining: Int?
    /// The part of a response head that has come, when it came in pieces.
    var head: ByteBuffer?

    init(pool: UpstreamPool) { self.pool = pool }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func start(_ request: ByteBuffer, for downstream: Downstream) {
        guard let context = self.context else { downstream.close(); return }
        self.downstream = downstream
        downstream.upstream = self
        self.remaining = nil
        context.writeAndFlush(self.wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        guard let downstream = self.downstream else { context.close(promise: nil); return }
        if let remaining = self.remaining {
            self.remaining = remaining - buffer.readableBytes
        } else {
            // The head may come in pieces: look for its end in what has come so far.
            if var head = self.head {
                head.writeImmutableBuffer(buffer)
                buffer = head
                self.head = nil
            }
            guard let end = find("\r\n\r\n", in: buffer) else {
                self.head = buffer
                return
            }
            let length = buffer.withUnsafeReadableBytes { contentLength(UnsafeRawBufferPointer(rebasing: $0[..<(end + 4)])) }
            guard let length else { downstream.close(); context.close(promise: nil); return }
            self.remaining = length - (buffer.readableBytes - end - 4)
        }
        downstream.write(buffer)
        if self.remaining! <= 0 {
            self.downstream = nil
            self.pool.idle.append(self)
            downstream.responseDone()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.downstream?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.downstream?.close()
        self.downstream = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func setReading(_ reading: Bool) {
        try? self.context?.channel.syncOptions?.setOption(.autoRead, value: reading)
    }
}

/// One client connection: forwards each request head to a leased upstream, one at a time.
final class Downstream: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let pool: UpstreamPool
    var context: ChannelHandlerContext?
    var pending: ByteBuffer?
    /// A request has gone to an upstream and its response has not ended.
    var inFlight = false
    /// The upstream answering it, once leased.
    var upstream: Upstream?
    var needsFlush = false
    var throttled = false

    init(pool: UpstreamPool) { self.pool = pool }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        if var pending = self.pending {
            pending.writeImmutableBuffer(buffer)
            self.pending = pending
        } else {
            self.pending = buffer
        }
        self.forwardNext()
    }

    func forwardNext() {
        guard !self.inFlight, var pending = self.pending else { return }
        guard let end = find("\r\n\r\n", in: pending) else {
            if pending.readableBytes > 64 * 1024 { self.close() }
            return
        }
        let head = pending.readSlice(length: end + 4)!
        self.pending = pending.readableBytes > 0 ? pending : nil
        // GET only: anything with a body, or a HEAD (whose response has none to count), closes.
        let hasBody = head.withUnsafeReadableBytes { contentLength($0) ?? 0 } > 0
        if hasBody || find("\r\nTransfer-Encoding:", in: head) != nil || head.getInteger(at: head.readerIndex, as: UInt32.self) != 0x4745_5420 {
            self.close()
            return
        }
        self.inFlight = true
        self.pool.lease(for: self, head)
    }

    func write(_ buffer: ByteBuffer) {
        guard let context = self.context else { return }
        context.write(self.wrapOutboundOut(buffer), promise: nil)
        self.needsFlush = true
        if !context.channel.isWritable, !self.throttled, let upstream = self.upstream {
            self.throttled = true
            upstream.setReading(false)
        }
    }

    func flush() {
        guard self.needsFlush, let context = self.context else { return }
        self.needsFlush = false
        context.flush()
    }

    /// The response has ended: flushed now (its upstream no longer hands over the end of a read
    /// cycle to this connection), and the next request, if one has come, goes out.
    func responseDone() {
        self.flush()
        if self.throttled {
            // The upstream goes back to the pool reading again, or its next response would hang.
            self.throttled = false
            self.upstream?.setReading(true)
        }
        self.inFlight = false
        self.upstream = nil
        self.forwardNext()
    }

    func close() {
        self.context?.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, self.throttled {
            self.throttled = false
            self.upstream?.setReading(true)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let upstream = self.upstream, upstream.downstream === self {
            upstream.downstream = nil
            upstream.context?.close(promise: nil)
        }
        self.upstream = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 3 || arguments.count == 6, let port = Int(arguments[1]), let upstreamPort = Int(arguments[2]),
    arguments.count == 3 || Int(arguments[3]) != nil
else {
    FileHandleLike.standardError("usage: ProxyFloor PORT UPSTREAM_PORT [TLS_PORT KEY_PEM CERT_PEM]\n")
    exit(2)
}
let tls: (port: Int, context: NIOSSLContext)?
if arguments.count == 6 {
    var configuration = TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMFile(arguments[5]).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(file: arguments[4], format: .pem))
    )
    configuration.applicationProtocols = ["http/1.1"]
    tls = (Int(arguments[3])!, try NIOSSLContext(configuration: configuration))
} else {
    tls = nil
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let loop = group.next()
let pool = try loop.submit { NIOLoopBound(UpstreamPool(eventLoop: loop, port: upstreamPort), eventLoop: loop) }.wait()

func listen(on port: Int, tls: NIOSSLContext?) throws -> any Channel {
    try ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 1024)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .childChannelOption(.maxMessagesPerRead, value: 4)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                try channel.pipeline.syncOperations.addHandler(Downstream(pool: pool.value))
            }
        }
        .bind(host: "127.0.0.1", port: port)
        .wait()
}

let server = try listen(on: port, tls: nil)
if let tls { _ = try listen(on: tls.port, tls: tls.context) }
print("ready \(server.localAddress?.port ?? port)")
try server.closeFuture.wait()

enum FileHandleLike {
    static func standardError(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
