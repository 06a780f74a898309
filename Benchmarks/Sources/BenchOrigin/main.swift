// BenchOrigin: the local origin the agent benchmarks run against.
//
// A minimal SwiftNIO HTTP/1.1 keep-alive server on 127.0.0.1, run as its own process so that
// its CPU time is not counted against the client under test.
//
//   BenchOrigin [port] [threads]     port 0 (the default) picks a free port
//
// Prints "ready <port>" on stdout once listening. Routes:
//   GET /1k    1024 bytes
//   GET /16m   16 MiB, streamed in 64 KiB slices of one shared buffer, with backpressure
//              (the next slice is written only while the channel is writable)
//   anything else: 404
// Runs until killed, and exits by itself when its parent process goes away, so a crashed
// benchmark never leaves it behind.

import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

let smallBody: ByteBuffer = {
    var buffer = ByteBufferAllocator().buffer(capacity: 1024)
    buffer.writeRepeatingByte(UInt8(ascii: "a"), count: 1024)
    return buffer
}()

let largeBodyLength = 16 << 20
let largeChunkLength = 64 << 10
let largeChunk: ByteBuffer = {
    var buffer = ByteBufferAllocator().buffer(capacity: largeChunkLength)
    buffer.writeRepeatingByte(UInt8(ascii: "b"), count: largeChunkLength)
    return buffer
}()

final class OriginHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// A request whose head has arrived; answered once its end has arrived and any
    /// earlier response has been written completely.
    private struct Pending {
        var path: Substring
        var keepAlive: Bool
        var complete: Bool
    }

    private var pending: [Pending] = []
    /// Remaining bytes of the 16 MiB response being streamed, nil when not streaming.
    private var streamRemaining: Int?
    private var streamKeepAlive = true
    private var needsFlush = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            self.pending.append(Pending(path: path, keepAlive: head.isKeepAlive, complete: false))
        case .body:
            break
        case .end:
            if let index = self.pending.firstIndex(where: { !$0.complete }) {
                self.pending[index].complete = true
            }
            self.serveReady(context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flushIfNeeded(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.continueStream(context: context)
            self.serveReady(context: context)
            self.flushIfNeeded(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        if self.needsFlush {
            self.needsFlush = false
            context.flush()
        }
    }

    /// Answers complete requests in order while no large response is being streamed.
    private func serveReady(context: ChannelHandlerContext) {
        while self.streamRemaining == nil, let first = self.pending.first, first.complete {
            self.pending.removeFirst()
            self.respond(context: context, path: first.path, keepAlive: first.keepAlive)
            if !context.channel.isActive { return }
        }
    }

    private func head(status: HTTPResponseStatus, length: Int, keepAlive: Bool) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: String(length))
        headers.add(name: "content-type", value: "application/octet-stream")
        if !keepAlive { headers.add(name: "connection", value: "close") }
        return HTTPResponseHead(version: .http1_1, status: status, headers: headers)
    }

    private func respond(context: ChannelHandlerContext, path: Substring, keepAlive: Bool) {
        switch path {
        case "/1k":
            context.write(self.wrapOutboundOut(.head(self.head(status: .ok, length: smallBody.readableBytes, keepAlive: keepAlive))), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(smallBody))), promise: nil)
            self.end(context: context, keepAlive: keepAlive)
        case "/16m":
            context.write(self.wrapOutboundOut(.head(self.head(status: .ok, length: largeBodyLength, keepAlive: keepAlive))), promise: nil)
            self.needsFlush = true
            self.streamRemaining = largeBodyLength
            self.streamKeepAlive = keepAlive
            self.continueStream(context: context)
        default:
            context.write(self.wrapOutboundOut(.head(self.head(status: .notFound, length: 0, keepAlive: keepAlive))), promise: nil)
            self.end(context: context, keepAlive: keepAlive)
        }
    }

    private func continueStream(context: ChannelHandlerContext) {
        while var remaining = self.streamRemaining {
            guard context.channel.isWritable else {
                self.flushIfNeeded(context: context)
                return
            }
            let length = min(remaining, largeChunkLength)
            let chunk = largeChunk.getSlice(at: largeChunk.readerIndex, length: length)!
            context.write(self.wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
            self.needsFlush = true
            remaining -= length
            if remaining == 0 {
                self.streamRemaining = nil
                self.end(context: context, keepAlive: self.streamKeepAlive)
            } else {
                self.streamRemaining = remaining
                // Flush every few slices so the kernel sees data while the loop keeps going.
                if (largeBodyLength - remaining) % (largeChunkLength * 4) == 0 {
                    self.flushIfNeeded(context: context)
                }
            }
        }
    }

    private func end(context: ChannelHandlerContext, keepAlive: Bool) {
        self.needsFlush = true
        if keepAlive {
            context.write(self.wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
                channel.close(promise: nil)
            }
            self.needsFlush = false
        }
    }
}

let arguments = CommandLine.arguments
let port = arguments.count > 1 ? Int(arguments[1]) ?? 0 : 0
let threads = arguments.count > 2 ? max(1, Int(arguments[2]) ?? 1) : 1

let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)
    .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
            try channel.pipeline.syncOperations.addHandler(OriginHandler())
        }
    }

let server: any Channel
do {
    server = try bootstrap.bind(host: "127.0.0.1", port: port).wait()
} catch {
    writeLine("BenchOrigin: cannot listen on 127.0.0.1:\(port): \(error)", to: 2)
    exit(1)
}

// Exit when the parent goes away (a killed or crashed benchmark).
let parent = getppid()
server.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
    if getppid() != parent { exit(0) }
}

writeLine("ready \(server.localAddress?.port ?? port)", to: 1)

// Runs until killed (SIGTERM from the benchmark's teardown or the script).
try server.closeFuture.wait()

func writeLine(_ line: String, to descriptor: Int32) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
}
