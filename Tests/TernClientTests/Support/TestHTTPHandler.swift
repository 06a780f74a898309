import Foundation
import NIOCore
import NIOHTTP1

/// The routes of `TestHTTPServer`. Responses are written as raw bytes so that framing is exactly what the route says.
///
/// Well-behaved routes (all answer HEAD with the head only):
/// - `/hello`: `Hello, world!` with Content-Length
/// - `/bytes/N`: N bytes (byte k is `k % 256`) with Content-Length, in 64 KiB chunks under backpressure;
///   `?stall-after=B1,B2&stall=MS1,MS2`: pauses of MS1 ms after B1 bytes, MS2 ms after B2 bytes and so on
///   (default 1000 ms each), the bytes in between as fast as they go (multiples of 256 keep the pattern)
/// - `/chunked/N`: the same with chunked transfer encoding
/// - `/sink`: reads a request body of any size without keeping it; answers the byte count as decimal text
/// - `/echo`: answers the request body; `X-Method` and `X-Body-Length` headers describe the request
/// - `/status/N`: status N; no body for 1xx, 204 and 304
/// - `/redirect/CODE?to=URL`: status CODE with `Location: URL` and a short body
/// - `/loop`: 302 to itself; `/redirect-chain/N`: N redirects, then `done`
/// - `/gzip`, `/deflate`: `TestPayloads.text` compressed; `?n=N` compresses N zero bytes instead;
///   `?chunked` sends it with chunked encoding in 1000-byte chunks; `/bad-gzip`: claims gzip, is not
/// - `/headers`: the request header fields, one `name: value` per line
/// - `/keepalive?timeout=N`: answers `Keep-Alive: timeout=N`
/// - `/close`: answers with `Connection: close`, then closes
/// - `/http10`: an HTTP/1.0 response with Content-Length, then closes; `/http10?eof`: body delimited by the close
/// - `/delay?ms=N`: answers `/hello` after N ms
/// - `/slow-body?total=N&chunk=C&interval=MS`: Content-Length N, C bytes every MS ms (defaults 1000, 10, 100)
///
/// Misbehaving routes:
/// - `/close-mid-body`: Content-Length 1000, 10 bytes, close
/// - `/never`: reads the request, never answers
/// - `/garbage`: answers bytes that are not HTTP and keeps the connection open
/// - `/close-before-response`: closes right after the request head
/// - `/huge-head`: a 200 KiB header section
final class TestHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    static let chunkSize = 64 * 1024

    /// One 64 KiB buffer shared by all streamed bodies: slices of it are written, never copies.
    static let pattern: ByteBuffer = {
        var buffer = ByteBufferAllocator().buffer(capacity: chunkSize)
        for i in 0..<chunkSize { buffer.writeInteger(UInt8(truncatingIfNeeded: i)) }
        return buffer
    }()

    struct Pending {
        var head: HTTPRequestHead
        var path: String
        var query: [String: String]
        var bodyBytes = 0
        var echo: ByteBuffer?
    }

    struct Streaming {
        var remaining: Int
        var chunked: Bool
        var close: Bool
        /// `stall-after`: each pause as the bytes still to write when it starts, and its length
        var stalls: [(at: Int, pause: TimeAmount)] = []
        var stalled = false
    }

    enum State {
        case idle
        case receiving(Pending)
        /// a response is being written (streamed or delayed); requests are not pipelined by the agent
        case responding
        /// `/never`: everything is read and ignored
        case ignoring
        /// `closeReusedConnectionsOnBody`: close when the body starts (or ends, if there is none)
        case closingOnBody
        case closed
    }

    let server: TestHTTPServer
    private let connectionID: Int
    var state = State.idle
    private var requestsOnConnection = 0
    var streaming: Streaming?
    var timer: Scheduled<Void>?

    init(server: TestHTTPServer, connectionID: Int) {
        self.server = server
        self.connectionID = connectionID
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        streaming = nil
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Parse errors, TLS failures, resets: a test server just drops the connection.
        state = .closed
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, streaming != nil {
            pump(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            server.record(head, connection: connectionID)
            requestsOnConnection += 1
            if case .closed = state { return }
            if case .ignoring = state { return }
            if requestsOnConnection > 1 {
                switch server.behavior {
                case .closeReusedConnections:
                    state = .closed
                    context.close(promise: nil)
                    return
                case .closeReusedConnectionsOnBody:
                    state = .closingOnBody
                    return
                default:
                    break
                }
            }
            let components = URLComponents(string: "http://test" + head.uri)
            let path = components?.percentEncodedPath ?? head.uri
            var query: [String: String] = [:]
            for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
            switch path {
            case "/close-before-response":
                state = .closed
                context.close(promise: nil)
            case "/never":
                state = .ignoring
            default:
                state = .receiving(Pending(head: head, path: path, query: query, echo: path == "/echo" ? context.channel.allocator.buffer(capacity: 0) : nil))
            }
        case .body(var body):
            if case .closingOnBody = state {
                state = .closed
                context.close(promise: nil)
                return
            }
            guard case .receiving(var pending) = state else { return }
            pending.bodyBytes += body.readableBytes
            if pending.echo != nil { pending.echo!.writeBuffer(&body) }
            state = .receiving(pending)
        case .end:
            if case .closingOnBody = state {
                state = .closed
                context.close(promise: nil)
                return
            }
            guard case .receiving(let pending) = state else { return }
            state = .responding
            respond(to: pending, context: context)
        }
    }

    // MARK: - Routes

    private func respond(to request: Pending, context: ChannelHandlerContext) {
        let head = request.head
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let first = parts.first ?? ""
        let number = parts.count > 1 ? Int(parts[1]) : nil

        switch (first, number) {
        case ("hello", _):
            send(context, head, body: "Hello, world!")
        case ("bytes", let n?), ("chunked", let n?):
            let chunked = first == "chunked"
            var headers = [("Content-Type", "application/octet-stream")]
            headers.append(chunked ? ("Transfer-Encoding", "chunked") : ("Content-Length", "\(n)"))
            writeHead(context, head, headers: headers)
            if head.method == .HEAD {
                context.flush()
                finish(context, head)
            } else {
                streaming = Streaming(remaining: n, chunked: chunked, close: shouldClose(head))
                let offsets = (request.query["stall-after"] ?? "").split(separator: ",").compactMap { Int($0) }
                let pauses = (request.query["stall"] ?? "").split(separator: ",").compactMap { Int64($0) }
                streaming?.stalls = offsets.enumerated().filter { $0.element < n }.map { index, offset in
                    (at: n - offset, pause: .milliseconds(index < pauses.count ? pauses[index] : 1000))
                }
                pump(context: context)
            }
        case ("sink", _):
            send(context, head, body: "\(request.bodyBytes)")
        case ("echo", _):
            var body = request.echo ?? context.channel.allocator.buffer(capacity: 0)
            send(
                context, head, headers: [("X-Method", head.method.rawValue), ("X-Body-Length", "\(request.bodyBytes)")],
                body: body.readString(length: body.readableBytes) ?? ""
            )
        case ("status", let code?):
            let noBody = code < 200 || code == 204 || code == 304
            if noBody {
                writeHead(context, head, status: code, headers: [])
                context.flush()
                finish(context, head)
            } else {
                send(context, head, status: code, body: "status \(code)")
            }
        case ("redirect", let code?):
            send(context, head, status: code, headers: [("Location", request.query["to"] ?? "/hello")], body: "redirecting")
        case ("loop", _):
            send(context, head, status: 302, headers: [("Location", "/loop")], body: "again")
        case ("redirect-chain", let n?):
            if n > 0 {
                send(context, head, status: 302, headers: [("Location", "/redirect-chain/\(n - 1)")], body: "next")
            } else {
                send(context, head, body: "done")
            }
        case ("gzip", _), ("deflate", _):
            let body = request.query["n"].flatMap(Int.init).map { TestPayloads.compressedZeros(count: $0, encoding: first) }
                ?? TestPayloads.compressedText(encoding: first)
            if request.query["chunked"] != nil {
                sendChunked(context, head, headers: [("Content-Encoding", first)], body: body, chunkSize: 1000)
            } else {
                send(context, head, headers: [("Content-Encoding", first)], body: body)
            }
        case ("bad-gzip", _):
            send(context, head, headers: [("Content-Encoding", "gzip")], body: "this is not gzip data at all")
        case ("headers", _):
            let lines = head.headers.map { "\($0.name): \($0.value)\n" }.joined()
            send(context, head, body: lines)
        case ("keepalive", _):
            let timeout = request.query["timeout"] ?? "5"
            send(context, head, headers: [("Keep-Alive", "timeout=\(timeout)")], body: "ok")
        case ("close", _):
            send(context, head, headers: [("Connection", "close")], body: "bye", forceClose: true)
        case ("http10", _):
            var buffer = context.channel.allocator.buffer(capacity: 128)
            let body = "HTTP/1.0 body"
            buffer.writeString("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n")
            if request.query["eof"] == nil { buffer.writeString("Content-Length: \(body.utf8.count)\r\n") }
            buffer.writeString("\r\n")
            if head.method != .HEAD { buffer.writeString(body) }
            context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            state = .closed
        case ("delay", _):
            let ms = request.query["ms"].flatMap(Int64.init) ?? 100
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(ms)) {
                self.timer = nil
                guard case .responding = self.state else { return }
                self.send(context, head, body: "Hello, world!")
            }
        case ("slow-body", _):
            let total = request.query["total"].flatMap(Int.init) ?? 1000
            let chunk = request.query["chunk"].flatMap(Int.init) ?? 10
            let interval = request.query["interval"].flatMap(Int64.init) ?? 100
            writeHead(context, head, headers: [("Content-Length", "\(total)")])
            context.flush()
            trickle(context, remaining: total, chunk: chunk, interval: .milliseconds(interval))
        case ("close-mid-body", _):
            writeHead(context, head, headers: [("Content-Length", "1000")])
            var buffer = context.channel.allocator.buffer(capacity: 10)
            buffer.writeRepeatingByte(UInt8(ascii: "x"), count: 10)
            context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            state = .closed
        case ("huge-head", _):
            let filler = String(repeating: "f", count: 1000)
            send(context, head, headers: (0..<200).map { ("X-Filler-\($0)", filler) }, body: "too big a head")
        case ("garbage", _):
            var buffer = context.channel.allocator.buffer(capacity: 64)
            buffer.writeString("\u{1}\u{2}GARBAGE not http at all \u{7F}\r\n\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        default:
            send(context, head, status: 404, body: "not found: \(head.uri)")
        }
    }
}
