import Foundation
import NIOCore
import NIOHTTP1

/// `/c/…?query`: a response shaped by the query, for cache tests.
/// - `h=Name:Value` (repeatable, percent-encoded): a response header field;
/// - `later=Name:Value` (repeatable, percent-encoded): on every answer after the first, this
///   field replaces the `h` fields of that name (a refreshed entry can be given another lifetime);
/// - `status=N`: the status (default 200);
/// - `size=N`: a body of N bytes (`0123456789` repeated) instead of the default
///   `NAME N\n`, where N is this request's number among those for this target (1 for the
///   first), which tells a test which fill answered;
/// - `delay=MS`: answer after that long;
/// - a request whose `If-None-Match` equals the response's `ETag`, or whose `If-Modified-Since`
///   equals its `Last-Modified`, gets 304 with the header fields and no body.
/// Every answer carries `X-Origin-Count: N`.
extension OriginHandler {
    func respondShaped(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let components = URLComponents(string: head.uri)
        var headers = HTTPHeaders()
        var status = HTTPResponseStatus.ok
        var size: Int?
        var delay = 0
        var later: [(String, String)] = []
        let count = self.counters.perURI.withLock { $0[head.uri] ?? 0 }
        for item in components?.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "h":
                if let colon = value.firstIndex(of: ":") {
                    headers.add(name: String(value[..<colon]), value: value[value.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                }
            case "later":
                if let colon = value.firstIndex(of: ":") {
                    later.append((String(value[..<colon]), value[value.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
                }
            case "status": status = HTTPResponseStatus(statusCode: Int(value) ?? 200)
            case "size": size = Int(value)
            case "delay": delay = Int(value) ?? 0
            default: break
            }
        }
        if count > 1 {
            for (name, value) in later { headers.replaceOrAdd(name: name, value: value) }
        }
        headers.add(name: "X-Origin-Count", value: String(count))
        let etag = headers.first(name: "etag")
        let lastModified = headers.first(name: "last-modified")
        if let etag, head.headers[canonicalForm: "if-none-match"].contains(where: { $0 == etag || $0 == "*" }) {
            status = .notModified
        } else if let lastModified, head.headers.first(name: "if-modified-since") == lastModified {
            status = .notModified
        }
        var body: ByteBuffer
        if let size {
            body = ByteBuffer()
            body.reserveCapacity(size)
            let pattern = Array("0123456789".utf8)
            for index in 0..<size { body.writeInteger(pattern[index % 10]) }
        } else {
            body = ByteBuffer(string: "\(self.name) \(count)\n")
        }
        if status == .notModified || status == .noContent {
            body.clear()
        } else {
            headers.add(name: "Content-Length", value: String(body.readableBytes))
        }
        let send = {
            context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            if head.method != .HEAD && body.readableBytes > 0 { context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
        if delay > 0 {
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay))) { send() }
        } else {
            send()
        }
    }
}
