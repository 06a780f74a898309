import NIOCore
import NIOHTTP1

extension ProxyHandler {
    // MARK: Answers of our own

    func respondLocally(
        _ status: HTTPResponseStatus,
        body: ByteBuffer? = nil,
        contentType: String = "text/html; charset=utf-8",
        close: Bool = false
    ) {
        guard let context = self.context, let request = self.requestHead, !self.closed else { return }
        let body = body ?? self.runtime?.pages.page(for: Int(status.code)) ?? ByteBuffer()
        var headers = HTTPHeaders()
        headers.reserveCapacity(5)
        headers.add(name: "Date", value: self.loop.dateCache.current)
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        if close || self.quiescing || !self.keepAlive || self.isLastRequestOnConnection {
            self.keepAlive = false
            headers.add(name: "Connection", value: "close")
        }
        self.responseStatus = status.code
        self.responseHeadSent = true
        self.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)), context: context)
        if !request.method.isHEAD {
            self.bytesSent = body.readableBytes
            self.write(.body(.byteBuffer(body)), context: context)
        }
        self.writeEnd(context: context)
        if self.requestEnded || !self.keepAlive {
            self.finishExchange()
        } else {
            self.state = .draining
        }
    }
}

extension ProxyHandler {
    /// `keepalive-requests`: this exchange is the last the connection serves, so its response
    /// says `Connection: close` (as nginx's does).
    var isLastRequestOnConnection: Bool {
        self.requestsServed + 1 >= (self.runtime?.configuration.limits.maxRequestsPerConnection ?? .max)
    }
}
