import NIOCore
import NIOHTTP1

/// How `TestHTTPHandler` writes: raw response heads, Content-Length and chunked bodies, streaming under
/// backpressure, and trickling bodies on a timer.
extension TestHTTPHandler {
    func shouldClose(_ head: HTTPRequestHead) -> Bool {
        if !head.isKeepAlive { return true }
        switch server.behavior {
        case .closeAfterEachResponse: return true
        default: return false
        }
    }

    func writeHead(
        _ context: ChannelHandlerContext,
        _ request: HTTPRequestHead,
        status: Int = 200,
        headers: [(String, String)]
    ) {
        var buffer = context.channel.allocator.buffer(capacity: 256)
        buffer.writeString("HTTP/1.1 \(status) \(HTTPResponseStatus(statusCode: status).reasonPhrase)\r\n")
        for (name, value) in headers {
            buffer.writeString("\(name): \(value)\r\n")
        }
        buffer.writeString("\r\n")
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    /// A complete response with Content-Length; no body for HEAD.
    func send(
        _ context: ChannelHandlerContext,
        _ request: HTTPRequestHead,
        status: Int = 200,
        headers: [(String, String)] = [],
        body: String,
        forceClose: Bool = false
    ) {
        send(context, request, status: status, headers: headers, body: ByteBuffer(string: body), forceClose: forceClose)
    }

    func send(
        _ context: ChannelHandlerContext,
        _ request: HTTPRequestHead,
        status: Int = 200,
        headers: [(String, String)] = [],
        body: ByteBuffer,
        forceClose: Bool = false
    ) {
        writeHead(context, request, status: status, headers: headers + [("Content-Length", "\(body.readableBytes)")])
        if request.method != .HEAD {
            context.write(wrapOutboundOut(body), promise: nil)
        }
        context.flush()
        finish(context, request, forceClose: forceClose)
    }

    /// A complete response with chunked transfer encoding, `body` cut into `chunkSize` chunks.
    func sendChunked(
        _ context: ChannelHandlerContext,
        _ request: HTTPRequestHead,
        headers: [(String, String)],
        body: ByteBuffer,
        chunkSize: Int
    ) {
        writeHead(context, request, headers: headers + [("Transfer-Encoding", "chunked")])
        if request.method != .HEAD {
            var body = body
            while body.readableBytes > 0 {
                let chunk = body.readSlice(length: min(chunkSize, body.readableBytes))!
                context.write(wrapOutboundOut(ByteBuffer(string: String(chunk.readableBytes, radix: 16) + "\r\n")), promise: nil)
                context.write(wrapOutboundOut(chunk), promise: nil)
                context.write(wrapOutboundOut(ByteBuffer(string: "\r\n")), promise: nil)
            }
            context.write(wrapOutboundOut(ByteBuffer(string: "0\r\n\r\n")), promise: nil)
        }
        context.flush()
        finish(context, request)
    }

    /// The response is fully written: close or wait for the next request.
    func finish(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, forceClose: Bool = false) {
        streaming = nil
        if forceClose || shouldClose(request) {
            state = .closed
            // Closing after the flush completes keeps the response whole; the close itself is silent.
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated()
                .whenComplete { _ in context.close(promise: nil) }
        } else {
            state = .idle
        }
    }

    /// Writes streamed body chunks while the channel is writable; `channelWritabilityChanged` resumes it.
    func pump(context: ChannelHandlerContext) {
        guard var streaming, context.channel.isActive, !streaming.stalled else { return }
        var written = 0
        let stop = streaming.stalls.first?.at ?? 0
        while context.channel.isWritable, streaming.remaining > stop, written < 16 {
            let count = min(streaming.remaining - stop, Self.chunkSize)
            let slice = Self.pattern.getSlice(at: Self.pattern.readerIndex, length: count)!
            if streaming.chunked {
                context.write(wrapOutboundOut(ByteBuffer(string: String(count, radix: 16) + "\r\n")), promise: nil)
                context.write(wrapOutboundOut(slice), promise: nil)
                context.write(wrapOutboundOut(ByteBuffer(string: "\r\n")), promise: nil)
            } else {
                context.write(wrapOutboundOut(slice), promise: nil)
            }
            streaming.remaining -= count
            written += 1
        }
        self.streaming = streaming
        if let stall = streaming.stalls.first, streaming.remaining == stall.at {
            // `stall-after`: what was written goes out, then nothing until the stall is over.
            self.streaming?.stalls.removeFirst()
            self.streaming?.stalled = true
            context.flush()
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: stall.pause) {
                self.timer = nil
                self.streaming?.stalled = false
                self.pump(context: context)
            }
            return
        }
        if streaming.remaining == 0 {
            if streaming.chunked {
                context.write(wrapOutboundOut(ByteBuffer(string: "0\r\n\r\n")), promise: nil)
            }
            context.flush()
            self.streaming = nil
            if streaming.close {
                state = .closed
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated()
                    .whenComplete { _ in context.close(promise: nil) }
            } else {
                state = .idle
            }
            return
        }
        context.flush()
        if context.channel.isWritable {
            // Yield the loop between batches so other connections on it make progress.
            context.eventLoop.assumeIsolated().execute { self.pump(context: context) }
        }
    }

    func trickle(_ context: ChannelHandlerContext, remaining: Int, chunk: Int, interval: TimeAmount) {
        guard case .responding = state, remaining > 0 else {
            if remaining == 0, case .responding = state { state = .idle }
            return
        }
        let count = min(chunk, remaining)
        var buffer = context.channel.allocator.buffer(capacity: count)
        buffer.writeRepeatingByte(UInt8(ascii: "s"), count: count)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        let left = remaining - count
        if left == 0 {
            state = .idle
            return
        }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: interval) {
            self.timer = nil
            self.trickle(context, remaining: left, chunk: chunk, interval: interval)
        }
    }
}
