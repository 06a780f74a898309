import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server on 127.0.0.1 (port 0) for the end-to-end tests of the `tern` binary.
///
/// Routes:
///   /json                   a JSON document
///   /text                   "hello\n" as text/plain
///   /bytes/N                N deterministic bytes (i % 251); honours `Range: bytes=S-`
///   /download/N             like /bytes/N, with Content-Disposition: attachment; filename="report.bin"
///   /echo                   "METHOD URI\n", the request headers ("name: value\n"), "\n", then the body
///   /status/N               status N
///   /redirect/N             302 to /redirect/N-1; /redirect/0 answers "done\n"
///   /loop                   302 to /loop
///   /flaky/KEY/N            503 for the first N requests with that KEY, then "ok\n"
///   /slow/MS?id=X           answers "X\n" after MS milliseconds
///   /stall                  sends a head and part of a body, then nothing
///   /gzip                   "hello gzip\n" × 20, gzip-encoded (Content-Encoding: gzip)
///
/// The same routes are served on a Unix domain socket at `unixSocketPath`.
final class TestServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    let unixChannel: any Channel
    let port: Int
    let unixSocketPath: String
    let state = ServerState()

    static let gzipBody: [UInt8] = [
        0x1f, 0x8b, 0x8, 0x0, 0x0, 0x0, 0x0, 0x0, 0x2, 0x3, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0x48, 0xaf, 0xca,
        0x2c, 0xe0, 0xca, 0x18, 0x6e, 0x4c, 0x0, 0x1c, 0xe6, 0x6b, 0xb8, 0xdc, 0x0, 0x0, 0x0,
    ]

    static let shared: TestServer = {
        do { return try TestServer() } catch { fatalError("cannot start the test server: \(error)") }
    }()

    init() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = self.state
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(TestHandler(state: state))
                }
            }
        let channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-cli-\(getpid()).sock").path
        try? FileManager.default.removeItem(atPath: path)
        self.unixChannel = try bootstrap.bind(unixDomainSocketPath: path).wait()
        self.unixSocketPath = path
        self.group = group
        self.channel = channel
        self.port = channel.localAddress!.port!
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(self.port)\(path)" }
}

final class ServerState: @unchecked Sendable {
    private let lock = NSLock()
    private var counters: [String: Int] = [:]

    func increment(_ key: String) -> Int {
        self.lock.lock()
        defer { self.lock.unlock() }
        self.counters[key, default: 0] += 1
        return self.counters[key]!
    }
}

final class TestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let state: ServerState
    var head: HTTPRequestHead?
    var body = ByteBuffer()

    init(state: ServerState) { self.state = state }

    static func pattern(_ n: Int, from start: Int = 0) -> [UInt8] {
        (start..<n).map { UInt8($0 % 251) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body.clear()
        case .body(var chunk):
            self.body.writeBuffer(&chunk)
        case .end:
            guard let head = self.head else { return }
            self.respond(to: head, context: context)
        }
    }

    func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
        let query = head.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        let parts = path.split(separator: "/").map(String.init)
        switch parts.first ?? "" {
        case "json":
            self.send(context, head, body: Array(#"{"z":1,"a":[true,null,"x"],"o":{}}"#.utf8), type: "application/json")
        case "gzip":
            self.send(context, head, body: TestServer.gzipBody, extra: [("Content-Encoding", "gzip")])
        case "text":
            self.send(context, head, body: Array("hello\n".utf8), type: "text/plain")
        case "bytes", "download":
            let n = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            var extra: [(String, String)] = []
            if parts[0] == "download" { extra.append(("Content-Disposition", "attachment; filename=\"report.bin\"")) }
            if let range = head.headers.first(name: "range"), range.hasPrefix("bytes="),
               let start = Int(range.dropFirst(6).split(separator: "-").first ?? "") {
                if start >= n {
                    self.send(context, head, status: .rangeNotSatisfiable, body: [], extra: extra + [("Content-Range", "bytes */\(n)")])
                } else {
                    self.send(context, head, status: .partialContent, body: Self.pattern(n, from: start),
                              extra: extra + [("Content-Range", "bytes \(start)-\(n - 1)/\(n)")])
                }
            } else {
                self.send(context, head, body: Self.pattern(n), type: "application/octet-stream", extra: extra)
            }
        case "echo":
            var text = "\(head.method.rawValue) \(head.uri)\n"
            for (name, value) in head.headers { text += "\(name): \(value)\n" }
            text += "\n"
            self.send(context, head, body: Array(text.utf8) + Array(self.body.readableBytesView), type: "text/plain")
        case "status":
            let code = parts.count > 1 ? Int(parts[1]) ?? 500 : 500
            self.send(context, head, status: HTTPResponseStatus(statusCode: code), body: Array("status \(code)\n".utf8))
        case "redirect":
            let n = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            if n == 0 {
                self.send(context, head, body: Array("done\n".utf8))
            } else {
                self.send(context, head, status: .found, body: [], extra: [("Location", "/redirect/\(n - 1)")])
            }
        case "loop":
            self.send(context, head, status: .found, body: [], extra: [("Location", "/loop")])
        case "flaky":
            let key = parts.count > 1 ? parts[1] : ""
            let failures = parts.count > 2 ? Int(parts[2]) ?? 1 : 1
            if self.state.increment("flaky-" + key) <= failures {
                self.send(context, head, status: .serviceUnavailable, body: Array("busy\n".utf8))
            } else {
                self.send(context, head, body: Array("ok\n".utf8))
            }
        case "slow":
            let ms = parts.count > 1 ? Int64(parts[1]) ?? 0 : 0
            let id = query.hasPrefix("id=") ? String(query.dropFirst(3)) : ""
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(ms)) {
                let (handler, context) = loopBound.value
                handler.send(context, head, body: Array("\(id)\n".utf8))
            }
        case "stall":
            var headers = HTTPHeaders([("Content-Length", "100")])
            headers.add(name: "Content-Type", value: "text/plain")
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "partial")))), promise: nil)
        default:
            self.send(context, head, status: .notFound, body: Array("not found\n".utf8))
        }
    }

    func send(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, status: HTTPResponseStatus = .ok, body: [UInt8],
              type: String = "text/plain", extra: [(String, String)] = []) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.count))
        for (name, value) in extra { headers.add(name: name, value: value) }
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD && !body.isEmpty {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }
}
