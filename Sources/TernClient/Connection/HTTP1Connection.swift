import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOSSL

/// One HTTP/1.1 connection to an origin, as the last handler of its channel's pipeline. It runs
/// one request at a time, translating channel events into calls on the `RequestExecution`, and
/// returns itself to its pool when the exchange leaves the connection reusable.
///
/// Backpressure: the channel's outbound `read` passes through here; while the consumer has paused
/// the response body, reads are held back (one pending read remembered), so the kernel buffer fills
/// and TCP flow control slows the server. Nothing is buffered in user space.
final class HTTP1Connection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    let id: PoolStateMachine.ConnectionID
    /// Strong, not weak: a weak reference would give the pool a side table, and every retain and
    /// release of it on the hot path would take the runtime's slow path. The cycle with the pool's
    /// table of connections ends when the channel's handlers are removed at close.
    private var pool: OriginPool?
    private let readTimeout: TimeAmount?
    private let decompresses: Bool
    private var link = PipelineLink<ChannelHandlerContext>()
    private var context: ChannelHandlerContext? { self.link.object }
    /// The codec, when requests may go to it directly (no decompressor in between, which adds
    /// `Accept-Encoding` to request heads).
    private var codecLink = PipelineLink<HTTP1ClientCodec>()

    private var execution: RequestExecution?
    private var requestDone = false
    private var requestKeepAlive = true
    /// The response's head has come, and whether it lets the connection stay open.
    private var responseStarted = false
    private var responseKeepsAlive = false
    private var responseHasNoBody = false
    /// Requests started on this connection; a failure on a connection that served one before may
    /// be the server's idle close racing our write.
    private var requestCount = 0
    private var closing = false

    private var readPaused = false
    private var readPending = false
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)
    private var readTimer: Scheduled<Void>?
    private var currentReadTimeout = TimeAmount.nanoseconds(.max)
    /// The server's `Keep-Alive: timeout=` hint, from the last response.
    private(set) var keepAliveHint: TimeAmount?
    /// When the pool closes this connection if it is still idle then (set and cleared only by its
    /// `OriginPool`): kept here rather than in a table of the pool's, which cost two hash lookups
    /// per request (a park and a lease).
    var idleDeadline: NIODeadline?

    init(id: PoolStateMachine.ConnectionID, pool: OriginPool, readTimeout: TimeAmount?, decompresses: Bool) {
        self.id = id
        self.pool = pool
        self.readTimeout = readTimeout
        self.decompresses = decompresses
    }

    var channel: (any Channel)? { self.context?.channel }
    var isWritable: Bool { self.context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.link.set(context)
        if !self.decompresses {
            self.codecLink.set(try? context.pipeline.syncOperations.handler(type: HTTP1ClientCodec.self))
            self.codecLink.object?.connection = self  // response parts come to `receive(_:)` directly
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.link.set(nil)
        self.codecLink.object?.connection = nil
        self.codecLink.set(nil)
        self.pool = nil
    }

    private func flush(_ context: ChannelHandlerContext) {
        if let codec = self.codecLink.borrowed { codec._withUnsafeGuaranteedRef { $0.flushRequest() } } else { context.flush() }
    }

    private func write(_ part: HTTPClientRequestPart, context: ChannelHandlerContext) {
        if let codec = self.codecLink.borrowed {
            codec._withUnsafeGuaranteedRef { $0.writeRequest(part, promise: nil) }
        } else {
            context.write(self.wrapOutboundOut(part), promise: nil)
        }
    }

    // MARK: Requests

    func start(_ execution: RequestExecution) {
        guard let context = self.link.borrowed, !self.closing else {
            execution.attemptFailed(
                TernClientError(code: .remoteClosed, phase: .write, detail: "connection closed before use"),
                connectionWasReused: true
            )
            return
        }
        context._withUnsafeGuaranteedRef { self.start(execution, context: $0) }
    }

    private func start(_ execution: RequestExecution, context: ChannelHandlerContext) {
        self.execution = execution
        self.requestCount += 1
        self.requestDone = false
        self.responseStarted = false
        self.responseHasNoBody = execution.head.method.isHEAD
        self.requestKeepAlive = execution.keepsAlive
        self.readPaused = false
        self.lastActivity = .coarseNow()
        if let codec = self.codecLink.borrowed {
            codec._withUnsafeGuaranteedRef { codec in
                codec.setFieldsAsBytes(execution.fieldsAsBytes)
                codec.writeRequestHead(execution.head, framing: execution.framing, lines: execution.lines, added: execution.addedLines)
            }
        } else if let (lines, omit) = execution.lines {
            // Through the decompressor, which may add its field: the lines become fields first.
            var head = execution.head
            var after = head.headers
            if let added = execution.addedLines { after = HTTPHeaders(added.pairs() + head.headers.map { $0 }) }
            head.headers = lines.headers(omitting: omit, then: after)
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        } else {
            context.write(self.wrapOutboundOut(.head(execution.head)), promise: nil)
        }
        switch execution.body {
        case .none:
            self.write(.end(nil), context: context)
            self.requestDone = true
        case .bytes(let buffer):
            if buffer.readableBytes > 0 {
                self.write(.body(.byteBuffer(buffer)), context: context)
            }
            self.write(.end(nil), context: context)
            self.requestDone = true
        case .stream:
            break
        }
        self.flush(context)
        if let timeout = execution.readTimeout ?? self.readTimeout {
            // One timer per connection, not per request: it re-arms itself from `lastActivity`.
            if self.readTimer == nil || timeout < self.currentReadTimeout {
                self.readTimer?.cancel()
                self.armReadTimer(timeout)
            }
            self.currentReadTimeout = timeout
        } else {
            // This request asked for none: a timer armed for an earlier one must not fire on it.
            self.readTimer?.cancel()
            self.readTimer = nil
        }
        if self.readPending {
            self.readPending = false
            self.passRead(context)
        }
    }

    /// Writes a body part; returns whether the channel can take more right away.
    func writeBodyPart(_ buffer: ByteBuffer) -> Bool {
        guard let context = self.context, !self.requestDone else { return true }
        // An upload in progress is activity: the server owes us nothing until it has the body.
        self.lastActivity = .coarseNow()
        self.write(.body(.byteBuffer(buffer)), context: context)
        self.flush(context)
        return context.channel.isWritable
    }

    func finishBody(trailers: HTTPHeaders?) {
        guard let context = self.context, !self.requestDone else { return }
        self.requestDone = true
        self.lastActivity = .coarseNow()
        self.write(.end(trailers), context: context)
        self.flush(context)
    }

    func pauseReading() {
        self.readPaused = true
    }

    func resumeReading() {
        guard self.readPaused else { return }
        self.readPaused = false
        self.lastActivity = .coarseNow()
        if self.readPending, let context = self.link.borrowed {
            self.readPending = false
            context._withUnsafeGuaranteedRef { self.passRead($0) }
        }
    }

    /// Fails the running request and closes the connection.
    func abort(_ error: TernClientError) {
        let execution = self.execution
        self.execution = nil
        self.close()
        execution?.fail(error)
    }

    func close() {
        guard !self.closing else { return }
        self.closing = true
        self.readTimer?.cancel()
        self.readTimer = nil
        self.context?.close(promise: nil)
    }

    // MARK: Channel events

    /// Reads through the codec directly when it is there (`HTTP1ClientCodec.passRead`).
    private func passRead(_ context: ChannelHandlerContext) {
        if self.codecLink.borrowed?._withUnsafeGuaranteedRef({ $0.passRead() }) != true { context.read() }
    }

    func read(context: ChannelHandlerContext) {
        if self.readPaused {
            self.readPending = true
        } else {
            self.passRead(context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.receive(self.unwrapInboundIn(data))
    }

    /// A response head from the codec by a direct call, with what its parser noted about its
    /// fields (`HTTP1HeadFacts`): keep-alive and the `Keep-Alive` hint are read from those, and the
    /// proxy behind the execution reads them too, rather than each reading the fields again; and
    /// the fields themselves as bytes, when the execution asked for them.
    func receiveHead(_ head: HTTPResponseHead, facts: HTTP1HeadFacts, raw: consuming HTTP1RawFields?) {
        guard let execution = self.execution else {
            self.close()
            return
        }
        self.startResponse(head.status.code)
        self.keepAliveHint = facts.keepAliveTimeout.map { .seconds(Int64($0)) }
        self.responseKeepsAlive = facts.keepsAlive(head.version)
        execution.receivedHead(head, facts: facts, raw: raw)
    }

    private func startResponse(_ status: UInt) {
        if status == 204 || status == 304 || (100..<200).contains(status) { self.responseHasNoBody = true }
        self.responseStarted = true
    }

    /// A response part, from the codec by a direct call (`HTTP1ClientCodec.connection`) or through
    /// the pipeline (from the decompressor).
    func receive(_ part: HTTPClientResponsePart) {
        if case .end(let trailers) = part, let execution = self.execution.take() {
            // Moved out, not copied and then cleared: the exchange is over for this connection.
            return self.finishResponse(trailers, execution: execution)
        }
        guard let execution = self.execution else {
            // Bytes nobody asked for: the server is out of step with us.
            self.close()
            return
        }
        switch part {
        case .head(var head):
            self.startResponse(head.status.code)
            self.keepAliveHint = Self.keepAliveTimeout(head.headers)
            self.responseKeepsAlive = head.keepsAlive
            if self.decompresses, !self.responseHasNoBody, let coding = head.headers.first(name: "content-encoding"),
                Self.isDecompressed(coding)
            {
                // The body reaches the caller decoded; its framing headers describe what went over the wire.
                head.headers.remove(name: "content-encoding")
                head.headers.remove(name: "content-length")
            }
            execution.receivedHead(head, facts: nil, raw: nil)
        case .body(let buffer):
            execution.receivedBodyPart(buffer)
        case .end:
            break  // handled above
        }
    }

    /// `execution` has been taken from `self.execution` already.
    private func finishResponse(_ trailers: HTTPHeaders?, execution: RequestExecution) {
        let reusable = self.requestDone && self.requestKeepAlive && self.responseStarted && self.responseKeepsAlive && !self.closing
        if !reusable {
            // Also when the server answered before the request body was done (RFC 9112 §9.6).
            self.close()
        }
        self.pool?.release(self, reusable: reusable)
        execution.receivedEnd(trailers)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Once per read cycle, not per part: the read timer cannot fire in between. Only while a
        // request is in flight: the timer acts on nothing else, and `start` stamps the next one
        // (a cycle that ended the response, as most do for small ones, costs no clock read).
        if let execution = self.execution {
            self.lastActivity = .coarseNow()
            execution.receivedReadComplete()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let execution = self.execution, !self.requestDone {
            execution.writabilityChanged(context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.responseHasNoBody, let extra = error as? NIOHTTPDecompression.ExtraDecompressionError,
            extra == .truncatedData
        {
            // NIOHTTPResponseDecompressor expects a body after any `Content-Encoding`, even for
            // HEAD, 204 and 304, which have none (RFC 9110 §6.4.1).
            return
        }
        let mapped = self.map(error)
        self.fail(mapped)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closing = true
        self.readTimer?.cancel()
        self.readTimer = nil
        if self.execution != nil {
            self.fail(
                TernClientError(
                    code: .remoteClosed,
                    phase: self.responseStarted || self.requestDone ? .read : .write,
                    detail: self.responseStarted ? "connection closed mid-response" : "connection closed before the response"
                )
            )
        }
        context.fireChannelInactive()
    }

    private func fail(_ error: TernClientError) {
        let execution = self.execution
        self.execution = nil
        self.close()
        execution?.attemptFailed(error, connectionWasReused: self.requestCount > 1)
    }

    // MARK: Read timeout

    private func armReadTimer(_ timeout: TimeAmount) {
        guard let context = self.context else { return }
        let deadline = self.lastActivity + timeout
        self.readTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.readTimer = nil
            guard self.execution != nil, !self.closing else { return }
            let timeout = self.currentReadTimeout
            let idle = NIODeadline.now() - self.lastActivity
            if self.readPaused || idle < timeout {
                self.armReadTimer(timeout)
            } else {
                self.fail(TernClientError(code: .readTimeout, phase: .read, detail: "no data for \(timeout.nanoseconds / 1_000_000) ms"))
            }
        }
    }

    // MARK: Helpers

    private func map(_ error: any Error) -> TernClientError {
        let phase: TernClientError.Phase = self.responseStarted || self.requestDone ? .read : .write
        if let error = error as? TernClientError { return error }
        if let parser = error as? HTTPParserError {
            if parser == .invalidEOFState {
                return TernClientError(code: .remoteClosed, phase: .read, detail: "connection closed mid-response")
            }
            return TernClientError(code: .invalidResponse, phase: .read, detail: "\(parser)")
        }
        if error is NIOHTTPDecompression.DecompressionError || error is NIOHTTPDecompression.ExtraDecompressionError {
            return TernClientError(code: .decompressionFailed, phase: .read, detail: "\(error)")
        }
        if error is BoringSSLError {
            // e.g. TLS 1.3's certificate_required alert, which arrives after our side of the handshake
            return TernClientError(code: .tlsFailed, phase: .tls, detail: "\(error)")
        }
        if let ssl = error as? NIOSSLError {
            if case .uncleanShutdown = ssl {
                return TernClientError(code: .remoteClosed, phase: phase, detail: "TLS connection closed without close_notify")
            }
            return TernClientError(code: .tlsFailed, phase: .tls, detail: "\(ssl)")
        }
        if let io = error as? IOError {
            return TernClientError(code: .remoteClosed, phase: phase, detail: "\(io)")
        }
        return TernClientError(code: .invalidResponse, phase: phase, detail: "\(error)")
    }

    static func isDecompressed(_ coding: String) -> Bool {
        let lowered = coding.lowercased()
        return lowered == "gzip" || lowered == "deflate" || lowered == "x-gzip"
    }

    /// `Keep-Alive: timeout=5, max=100` (RFC 2068 §19.7.1.1): the seconds the server keeps an idle connection.
    static func keepAliveTimeout(_ headers: HTTPHeaders) -> TimeAmount? {
        guard let value = headers.first(name: "keep-alive"),
            let seconds = ASCII.withBytes(value, { HTTP1Fields.keepAliveTimeout($0) })
        else { return nil }
        return .seconds(Int64(seconds))
    }
}

@available(*, unavailable)
extension HTTP1Connection: Sendable {}
