import NIOCore
import NIOHTTP1
import TernClient

/// On a `listen … { redirect-https PORT }` listener: every request gets a 308 to the same URL on HTTPS.
final class HTTPSRedirectHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart
    let port: Int

    init(port: Int) { self.port = port }

    /// The listener's guard, told of each response (it holds refusals of pipelined requests).
    private var requestGuard: RequestGuard?
    /// The response now going out said `Connection: close`: the connection closes after its end.
    private var closesAfterResponse = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.requestGuard = try? context.pipeline.syncOperations.handler(type: RequestGuard.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.requestGuard = nil
    }

    /// Reads wait while the guard asks Redis whether the last head may pass.
    func read(context: ChannelHandlerContext) {
        if let requestGuard = self.requestGuard, requestGuard.holdsReads {
            requestGuard.holdRead()
        } else {
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = self.unwrapInboundIn(data) else {
            if case .end = self.unwrapInboundIn(data) {
                let written = self.closesAfterResponse ? context.eventLoop.makePromise(of: Void.self) : nil
                context.write(self.wrapOutboundOut(.end(nil)), promise: written)
                self.requestGuard?.responseEnded()
                context.flush()
                written?.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
            return
        }
        self.requestGuard?.responseStarted()
        let host = Substring.hostWithoutPort(head.headers.first(name: "host") ?? "localhost")
        let location = "https://\(host)\(self.port == 443 ? "" : ":\(self.port)")\(head.uri)"
        var headers = HTTPHeaders([("Location", location), ("Content-Length", "0")])
        self.closesAfterResponse = !head.keepsAlive
        if self.closesAfterResponse { headers.add(name: "Connection", value: "close") }
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .permanentRedirect, headers: headers))), promise: nil)
    }
}
