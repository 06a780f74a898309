import NIOCore
import NIOHTTP1

/// The agent's HTTP/1 codec, one handler in place of NIO's `HTTPRequestEncoder` and
/// `ByteToMessageHandler<HTTPResponseDecoder>`: responses are parsed by `HTTP1Parser`, requests
/// serialized by `HTTP1Writer` (head, small body and end gathered into one write). The same parts
/// go in and out as with NIO's pair.
///
/// As NIO's pair does: the decoder knows from the requests written which responses have no body
/// (HEAD) or end HTTP (a 2xx to CONNECT); interim responses (1xx but 101) are skipped; a body
/// without framing ends with the connection, whose end before a message is whole is
/// `invalidEOFState`; after a 101 nothing more is parsed, and the bytes behind it are passed on
/// as they are when the codec is taken out.
final class HTTP1ClientCodec: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = ByteBuffer

    private var input: HTTP1Input
    private var writer = HTTP1Writer()
    private var decoding = false
    private var inactive = false
    /// Requests written whose responses have not come.
    private var pending = PendingMethods()

    private var link = PipelineLink<ChannelHandlerContext>()
    private var context: ChannelHandlerContext? { self.link.object }
    /// The socket's receive low-water mark while a long body streams in.
    private var bulk = BulkReceive()
    /// The connection right behind, which takes response parts by a direct call (it sets and
    /// clears this itself, when no decompressor sits in between).
    var connection: HTTP1Connection? {
        get { self.connectionLink.object }
        set { self.connectionLink.set(newValue) }
    }
    private var connectionLink = PipelineLink<HTTP1Connection>()

    init(maxHeadBytes: Int) {
        self.input = HTTP1Input(HTTP1Parser(kind: .response, maxHeadBytes: maxHeadBytes, maxFieldCount: Int(UInt16.max) - 1))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.link.set(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.bulk.lower(context.channel)
        self.link.set(nil)
        self.connection = nil
    }

    // MARK: Requests

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.write(self.unwrapOutboundIn(data), context: context, promise: promise)
    }

    /// A request part from the handler behind, handed over by a direct call rather than through
    /// the pipeline: no `NIOAny` box, no dynamic cast to unwrap it, no hop. Only when no handler in
    /// between has a say in requests (`HTTP1Connection` without decompression).
    func writeRequest(_ part: HTTPClientRequestPart, promise: EventLoopPromise<Void>?) {
        guard let context = self.link.borrowed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context._withUnsafeGuaranteedRef { self.write(part, context: $0, promise: promise) }
    }

    /// A request head whose framing the caller knows (`RequestExecution.framing`), by a direct call
    /// as `writeRequest`.
    /// With `lines` and `added`: field lines as they came and lines of the caller's, written before
    /// the head's fields (see `Agent.execute`).
    func writeRequestHead(
        _ head: HTTPRequestHead, framing: HTTP1Writer.Framing, lines: (HTTP1RawFields, omitting: UInt64)? = nil, added: HTTP1RawFields? = nil
    ) {
        guard self.link.borrowed != nil else { return }
        self.writeHead(head, framing: framing, lines: lines, added: added)
    }

    private func writeHead(
        _ head: HTTPRequestHead, framing: HTTP1Writer.Framing, lines: (HTTP1RawFields, omitting: UInt64)? = nil, added: HTTP1RawFields? = nil
    ) {
        let first = self.pending.isEmpty
        self.pending.append(head.method)
        if first { self.answerNext() }
        self.writer.requestHead(head, framing: framing, lines: lines, added: added)
    }

    private func write(_ part: HTTPClientRequestPart, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        switch part {
        case .head(let head):
            self.writeHead(head, framing: HTTP1Writer.requestFraming(head))
            if promise != nil { self.writer.writeGathered(context: context, promise: promise) }
        case .body(let part):
            self.writer.body(part, context: context, promise: promise)
        case .end(let trailers):
            self.writer.end(trailers, context: context, promise: promise)
        }
    }

    /// A read from the connection behind by a direct call: passed to the handlers in front, as
    /// the pipeline would pass it through this codec (which leaves reads alone), without the hop
    /// (a context call and its retains, on every response). False once the codec is out of the
    /// pipeline: the caller reads through its own context.
    package func passRead() -> Bool {
        guard let context = self.link.borrowed else { return false }
        context._withUnsafeGuaranteedRef { $0.read() }
        return true
    }

    func flush(context: ChannelHandlerContext) {
        self.writer.writeGathered(context: context, promise: nil)
        context.flush()
    }

    /// A flush from the handler behind by a direct call, as `writeRequest`.
    func flushRequest() {
        guard let context = self.link.borrowed else { return }
        context._withUnsafeGuaranteedRef { self.flush(context: $0) }
    }

    /// The responses to come hand their fields on as bytes (`HTTP1RawFields`) rather than as
    /// `HTTPHeaders`: for an exchange that asked for them (`RequestExecution.fieldsAsBytes`), set by
    /// the connection as it starts one. Only while the connection takes parts by a direct call.
    func setFieldsAsBytes(_ asBytes: Bool) {
        self.input.parser.fieldsAsBytes = asBytes && self.connection != nil
    }

    /// Tells the parser about the request the next response answers.
    private func answerNext() {
        self.input.parser.answeringHEAD = self.pending.firstIsHEAD
        self.input.parser.answeringCONNECT = self.pending.firstIsCONNECT
    }

    // MARK: Responses

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.bulk.read(buffer.readableBytes)
        self.input.append(buffer)  // after a 101: kept for whoever comes next
        if !self.decoding && !self.input.parser.hasStopped { self.decode(context: context) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.bulk.cycleEnded(remaining: self.input.parser.contentBytesRemaining, context: context) {
            self.scheduleBulkCheck(context: context)
        }
        context.fireChannelReadComplete()
    }

    /// While the low-water mark is raised: lowers it when a check finds nothing read since the last.
    private func scheduleBulkCheck(context: ChannelHandlerContext) {
        let check = context.eventLoop.assumeIsolated().scheduleTask(in: BulkReceive.checkInterval) { [self] in
            guard let context = self.context else { return }
            if self.bulk.checked(channel: context.channel) { self.scheduleBulkCheck(context: context) }
        }
        self.bulk.scheduled(check)
    }

    /// Hands on each part parsed; bytes that arrive meanwhile queue behind the rest.
    private func decode(context: ChannelHandlerContext) {
        self.decoding = true
        defer { self.decoding = false }
        do {
            while !self.inactive, !self.input.parser.hasStopped, let event = try self.input.next() {
                self.deliver(event, context: context)
            }
        } catch {
            context.fireErrorCaught(error)
        }
    }

    /// `event` is taken `consuming`: its head or part is moved on, not copied and released.
    private func deliver(_ event: consuming HTTP1Parser.Event, context: ChannelHandlerContext) {
        switch consume event {
        case .responseHead(let head):
            self.pending.removeFirst()
            self.answerNext()
            var raw = self.input.parser.takeRawFields()
            if let connection = self.connectionLink.borrowed {
                // Moved on (`take`) to the execution that keeps it for its delegate.
                connection._withUnsafeGuaranteedRef { $0.receiveHead(head, facts: self.input.parser.lastHead, raw: raw.take()) }
            } else {
                var head = head
                if let raw { head.headers = raw.headers() }
                context.fireChannelRead(self.wrapInboundOut(.head(head)))
            }
        case .body(let part):
            self.pass(.body(part), context: context)
        case .end(let trailers):
            self.pass(.end(trailers), context: context)
        case .requestHead:
            preconditionFailure("a response parser parsed a request")
        }
    }

    private func pass(_ part: HTTPClientResponsePart, context: ChannelHandlerContext) {
        if let connection = self.connectionLink.borrowed {
            connection._withUnsafeGuaranteedRef { $0.receive(part) }
        } else {
            context.fireChannelRead(self.wrapInboundOut(part))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The connection's end ends a body that runs to it, or cuts a message short. Not while
        // parts are being handed on: then it is the exchange behind that closed the connection.
        if !self.decoding && !self.inactive && !self.input.parser.hasStopped {
            do {
                if let event = try self.input.parser.finish() { self.deliver(event, context: context) }
            } catch {
                context.fireErrorCaught(error)
            }
        }
        self.inactive = true
        self.bulk.stop()
        context.fireChannelInactive()
    }

    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        // After a protocol switch: the bytes behind the 101 go on to the handlers that follow.
        if let rest = self.input.takeRest() {
            context.fireChannelRead(NIOAny(rest))
            context.fireChannelReadComplete()
        }
        context.leavePipeline(removalToken: removalToken)
    }
}

@available(*, unavailable)
extension HTTP1ClientCodec: Sendable {}
