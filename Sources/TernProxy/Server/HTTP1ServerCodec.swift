import NIOCore
import NIOHTTP1
import TernClient

/// The proxy's HTTP/1 server codec, one handler in place of NIO's `HTTPResponseEncoder` and
/// `ByteToMessageHandler<HTTPRequestDecoder>`: requests are parsed by `HTTP1Parser`, responses
/// serialized by `HTTP1Writer` (head, small body and end gathered into one write). The same parts
/// go in and out as with NIO's pair, so the handlers behind it do not change.
///
/// Why our own: NIO's decoder is generic over its parts and drives llhttp through callbacks, and
/// as a write-observing decoder it also sat in the path of every response write; with the
/// byte-to-message machinery around it that was about a sixth of the proxy's CPU time on a
/// proxied 1 KiB request (runtime generic-metadata lookups included).
///
/// Responses follow NIO's encoder: a response to HEAD or CONNECT carries no body (a HEAD
/// response keeps its framing fields), a status without a body (1xx, 204, 304) loses
/// `Content-Length` and `Transfer-Encoding`, and an HTTP/1.1 response without a length is chunked.
final class HTTP1ServerCodec: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = ByteBuffer

    private var input: HTTP1Input
    private var writer = HTTP1Writer()
    private var decoding = false
    private var inactive = false
    /// The requests whose responses have not begun (those to HEAD and CONNECT have no body).
    private var pending = PendingMethods()

    private var link = PipelineLink<ChannelHandlerContext>()
    /// The guard right behind, which takes request parts by a direct call (set by
    /// `ListenerGuards.addHTTPHandlers`): no `NIOAny` box, no dynamic cast, no hop per part.
    var requestGuard: RequestGuard? {
        get { self.guardLink.object }
        set { self.guardLink.set(newValue) }
    }
    private var guardLink = PipelineLink<RequestGuard>()

    init(maxHeadBytes: Int, maxFieldCount: Int) {
        var parser = HTTP1Parser(kind: .request, maxHeadBytes: maxHeadBytes, maxFieldCount: maxFieldCount)
        // A head's fields come as bytes: the proxy passes a plain GET's on as they came, and reads
        // them into `HTTPHeaders` only when it needs them (`ProxyHandler.requestHead`).
        parser.fieldsAsBytes = true
        self.input = HTTP1Input(parser)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.link.set(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.link.set(nil)
        self.requestGuard = nil
        // A protocol switch takes the codec out: bytes sent before the 101 are dropped, as the
        // client must wait for it (RFC 6455 §4.1).
        _ = self.input.takeRest()
    }

    // MARK: Requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.receive(self.unwrapInboundIn(data), context: context)
    }

    /// Bytes from the header timer in front by a direct call (`HeadTimer.codec`). Taken
    /// `consuming`, down to the input that keeps them: moved there, not copied and released.
    func receive(_ bytes: consuming ByteBuffer) {
        guard let context = self.link.borrowed else { return }
        context.withUnsafeGuaranteedRef(passing: bytes) { self.receive($1, context: $0) }
    }

    private func receive(_ bytes: consuming ByteBuffer, context: ChannelHandlerContext) {
        guard !self.input.parser.hasStopped else { return }
        self.input.append(bytes)
        if !self.decoding { self.decode(context: context) }
    }

    /// `part` is taken `consuming`, here and down the guard and the proxy handler: the head the
    /// parser made is moved from one to the next, not copied (a retain) and released at each.
    private func pass(_ part: consuming HTTPServerRequestPart, context: ChannelHandlerContext) {
        if let requestGuard = self.guardLink.borrowed {
            requestGuard.withUnsafeGuaranteedRef(passing: part) { $0.receive($1) }
        } else {
            context.fireChannelRead(self.wrapInboundOut(part))
        }
    }

    /// Hands on each part parsed. A part handed on may lead, through the handlers behind, to more
    /// bytes arriving before it returns: they queue behind the rest and this same loop parses them.
    private func decode(context: ChannelHandlerContext) {
        self.decoding = true
        defer { self.decoding = false }
        do {
            while !self.inactive, !self.input.parser.hasStopped, let event = try self.input.next() {
                switch consume event {
                case .requestHead(var head):
                    self.pending.append(head.method)
                    var fields = self.input.parser.takeRawFields()
                    if let requestGuard = self.guardLink.borrowed {
                        requestGuard._withUnsafeGuaranteedRef {
                            $0.headFacts = self.input.parser.lastHead
                            $0.headLines = fields.take()  // moved: no retain and release of the receive buffer
                        }
                    } else if let fields {
                        head.headers = fields.headers()  // a handler behind reads the fields as values
                    }
                    self.pass(.head(head), context: context)
                case .body(let part):
                    self.pass(.body(part), context: context)
                case .end(let trailers):
                    self.pass(.end(trailers), context: context)
                case .responseHead:
                    preconditionFailure("a request parser parsed a response")
                }
            }
        } catch {
            _ = self.input.takeRest()
            context.fireErrorCaught(error)
            return
        }
        if self.input.parser.hasStopped { _ = self.input.takeRest() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.inactive = true  // parts not yet handed on are not for a closed connection
        context.fireChannelInactive()
    }

    // MARK: Responses

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.write(self.unwrapOutboundIn(data), context: context, promise: promise)
    }

    /// A response part from the handler behind, handed over by a direct call rather than through
    /// the pipeline: no `NIOAny` box, no dynamic cast to unwrap it, no hop (`ProxyHandler` does
    /// this; the others write through the pipeline, and both end up here, in call order).
    func writeResponse(_ part: HTTPServerResponsePart, promise: EventLoopPromise<Void>?) {
        guard let context = self.link.borrowed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context._withUnsafeGuaranteedRef { self.write(part, context: $0, promise: promise) }
    }

    private func write(_ part: HTTPServerResponsePart, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        switch part {
        case .head(let head):
            self.writeHead(head, context: context, promise: promise)
        case .body(let part):
            self.writer.body(part, context: context, promise: promise)
        case .end(let trailers):
            self.writer.end(trailers, context: context, promise: promise)
        }
    }

    /// A response head passed on from an upstream, rewritten on the way (see
    /// `HTTP1Writer.responseHead`): a direct call, as `writeResponse`.
    /// With `raw`, the head's fields are those bytes (`HTTP1RawFields`), not its `HTTPHeaders`.
    func writeResponseHead(
        _ head: HTTPResponseHead, fields raw: HTTP1RawFields?, version: HTTPVersion, passingOn facts: HTTP1HeadFacts,
        adding first: (String, String)?, _ second: (String, String)?
    ) {
        guard let context = self.link.borrowed else { return }
        context._withUnsafeGuaranteedRef {
            self.writeHead(head, fields: raw, version: version, passingOn: facts, adding: first, second, context: $0, promise: nil)
        }
    }

    /// A stored response's head (a cache hit): the stored fields as the lines they were kept in
    /// (`CachedResponse.headLines`), then the head's own (what the hit adds). A direct call, as
    /// `writeResponse`. `hasContentLength`: whether either has that field.
    func writeStoredResponseHead(_ head: HTTPResponseHead, after lines: HTTP1RawFields, hasContentLength: Bool) {
        guard let context = self.link.borrowed else { return }
        context._withUnsafeGuaranteedRef {
            self.writeHead(head, after: lines, hasContentLength: hasContentLength, context: $0, promise: nil)
        }
    }

    private func writeHead(
        _ head: HTTPResponseHead, fields raw: HTTP1RawFields? = nil, version: HTTPVersion? = nil, passingOn facts: HTTP1HeadFacts? = nil,
        adding first: (String, String)? = nil, _ second: (String, String)? = nil, after stored: HTTP1RawFields? = nil,
        hasContentLength: Bool? = nil, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?
    ) {
        let code = head.status.code
        var bodiless = false
        var connect = false
        // A final response (or a 101) answers the oldest request; interim ones do not.
        if code >= 200 || code == 101, let answered = self.pending.takeFirst() {
            connect = answered.isCONNECT
            bodiless = connect || answered.isHEAD
        }
        let framing = HTTP1Writer.responseFraming(head, answeringCONNECT: connect, hasContentLength: hasContentLength ?? facts?.hasContentLength)
        if let stored {
            self.writer.responseHead(head, after: stored, framing: framing, suppressBody: bodiless)
        } else if let raw {
            self.writer.responseHead(
                head, fields: raw, framing: framing, suppressBody: bodiless, version: version, omitting: facts?.hopByHop ?? 0,
                adding: first, second)
        } else {
            self.writer.responseHead(
                head, framing: framing, suppressBody: bodiless, version: version, omitting: facts?.hopByHop ?? 0, adding: first, second)
        }
        if promise != nil { self.writer.writeGathered(context: context, promise: promise) }
    }

    func flush(context: ChannelHandlerContext) {
        self.writer.writeGathered(context: context, promise: nil)
        context.flush()
    }

    /// A read from the handler behind by a direct call: passed to the handlers in front, as the
    /// pipeline would pass it through this codec (which leaves reads alone), without the hop (a
    /// context call and its retains, on every request). False once the codec is out of the
    /// pipeline (a protocol switch): the caller reads through its own context.
    func passRead() -> Bool {
        guard let context = self.link.borrowed else { return false }
        context._withUnsafeGuaranteedRef { $0.read() }
        return true
    }

    /// A flush from the handler behind by a direct call, as `writeResponse`.
    func flushResponse() {
        guard let context = self.link.borrowed else { return }
        context._withUnsafeGuaranteedRef { self.flush(context: $0) }
    }
}

@available(*, unavailable)
extension HTTP1ServerCodec: Sendable {}
