import NIOCore
import NIOHTTP1

/// One request on its way through the agent: waiting for a connection, running on one, or done.
/// It lives on one event loop, and every method must be called there. It owns the request's
/// deadline and decides whether a failed attempt may be retried on a fresh connection.
public final class RequestExecution {
    enum State {
        case queued(PoolStateMachine.WaiterID)
        case running(HTTP1Connection)
        case finished
        case initialized
    }

    /// The pool's loop: read from it, not stored apart (a retain when made, a release when freed).
    public var eventLoop: any EventLoop { self.pool.eventLoop }
    public let head: HTTPRequestHead
    let body: RequestBody
    let pool: OriginPool
    private let delegate: any ResponseDelegate
    private(set) var state: State = .initialized
    private var deadlineTask: Scheduled<Void>?
    private var attempts = 0
    /// Streamed body parts handed to us before a connection was ready (at most one when the
    /// writer honours the futures `writeBodyPart` returns). Made on the first such part: most
    /// requests have none, and an empty `CircularBuffer` still allocates its storage.
    private var pendingBody: CircularBuffer<ByteBuffer>?
    private var pendingEnd: HTTPHeaders?? = nil
    private var bodyStreamStarted = false
    private var writabilityPromise: EventLoopPromise<Void>?
    var responseStarted = false
    /// What the parser noted about the response head's fields, for the delegate to read instead of
    /// them (nil when the head reached us through the pipeline, as with decompression, which edits it).
    package private(set) var responseFacts: HTTP1HeadFacts?
    /// The delegate takes the response head's fields as bytes: its `responseHead` gets a head with
    /// no fields and reads them from `responseRawFields` (the proxy, which mostly passes them on).
    let fieldsAsBytes: Bool
    /// Field lines written as they came before `head`'s fields, but those whose bit is set
    /// (`Agent.execute(…lines:…)`). They hold the caller's receive buffer, as long as the caller
    /// does (the proxy, until its exchange is done, about when this execution goes).
    /// This, `addedLines` and `head` are `let`s: the connection hands them to the writer borrowed,
    /// where loading a `var` retained and released each (six a request).
    let lines: (HTTP1RawFields, omitting: UInt64)?
    /// Lines of the caller's written whole after `lines` (`Agent.execute(…addedLines:…)`).
    let addedLines: HTTP1RawFields?
    /// During the delegate's `responseHead` only: the fields of that head, when kept as bytes.
    package private(set) var responseRawFields: HTTP1RawFields?
    /// Whether the request lets its connection stay open (its `Connection` field and version), and
    /// how the writer frames it: both known once the framing fields are set, without the
    /// connection and the writer each reading the head's fields again.
    let keepsAlive: Bool
    let framing: HTTP1Writer.Framing
    /// Overrides of the agent's timeouts for this request (a proxy route's own).
    let connectTimeout: TimeAmount?
    let readTimeout: TimeAmount?

    /// The values stored are taken `consuming`: each is moved in, not copied and its original
    /// released (the optimizer had made them borrowed, a retain and a release apiece).
    init(
        head: consuming HTTPRequestHead,
        body: consuming RequestBody,
        pool: consuming OriginPool,
        delegate: consuming any ResponseDelegate,
        deadline: NIODeadline?,
        connectTimeout: TimeAmount? = nil,
        readTimeout: TimeAmount? = nil,
        fieldsAsBytes: Bool = false,
        known: KnownRequestFields? = nil,
        lines: consuming (HTTP1RawFields, omitting: UInt64)? = nil,
        addedLines: consuming HTTP1RawFields? = nil
    ) {
        self.fieldsAsBytes = fieldsAsBytes
        self.lines = lines
        self.addedLines = addedLines
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.keepsAlive = Self.normalizeFraming(&head, body: body, known: known)
        self.framing = Self.framing(head.method, version: head.version, body: body)
        self.head = head
        self.body = body
        self.delegate = delegate
        self.pool = pool
        if let deadline {
            self.deadlineTask = self.pool.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
                self.cancel(with: TernClientError(code: .deadlineExceeded, phase: self.currentPhase, address: self.pool.address))
            }
        }
    }

    /// The body framing follows the body we were given (RFC 9112 §6): never a caller's stale
    /// `Content-Length` beside a chunked body. Removals are asked for only when the field is there:
    /// removing from headers whose storage is shared (the caller keeps its head) copies them even
    /// when nothing matches. One pass finds the framing fields and reads `Connection`: returns
    /// whether the request keeps the connection open (`HTTP1Fields.isKeepAlive`). With `known`,
    /// the caller has said what that pass would find.
    static func normalizeFraming(_ head: inout HTTPRequestHead, body: RequestBody, known: KnownRequestFields? = nil) -> Bool {
        let fields = known ?? KnownRequestFields(reading: head.headers)
        let (hasCoding, hasLength) = (fields.hasTransferEncoding, fields.hasContentLength)
        switch body {
        case .none:
            if hasCoding { head.headers.remove(name: "transfer-encoding") }
            if head.method.isPOSTPUTOrPATCH {
                head.headers.replaceOrAdd(name: "content-length", value: "0")
            } else if hasLength {
                head.headers.remove(name: "content-length")
            }
        case .bytes(let buffer):
            if hasCoding { head.headers.remove(name: "transfer-encoding") }
            head.headers.replaceOrAdd(name: "content-length", value: String(buffer.readableBytes))
        case .stream(let length?):
            if hasCoding { head.headers.remove(name: "transfer-encoding") }
            head.headers.replaceOrAdd(name: "content-length", value: String(length))
        case .stream(nil):
            if hasLength { head.headers.remove(name: "content-length") }
            head.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
        }
        return HTTP1Fields.keepsAlive(close: fields.connectionClose, keepAlive: fields.connectionKeepAlive, version: head.version)
    }

    /// `HTTP1Writer.requestFraming` of a head whose framing fields `normalizeFraming` has set for
    /// `body`, known from the method and the body alone.
    static func framing(_ method: HTTPMethod, version: HTTPVersion, body: RequestBody) -> HTTP1Writer.Framing {
        let http11 = version.major == 1 && version.minor >= 1
        switch (method, body) {
        case (.TRACE, _):
            return .dropLengthAndCoding
        case (.POST, .stream(nil)), (.PUT, .stream(nil)), (.PATCH, .stream(nil)):
            return http11 ? .chunked : .keep(chunked: false)
        case (.POST, _), (.PUT, _), (.PATCH, _):
            return .dropCoding
        case (_, .none):
            return .keep(chunked: false)
        case (_, .bytes), (_, .stream(_?)):
            return .dropCoding
        case (_, .stream(nil)):
            return .keep(chunked: http11)
        }
    }

    public var isFinished: Bool {
        if case .finished = self.state { return true }
        return false
    }

    private var currentPhase: TernClientError.Phase {
        switch self.state {
        case .initialized, .queued: return .pool
        case .running: return self.responseStarted ? .read : .write
        case .finished: return .request
        }
    }

    // MARK: Streaming the request body

    /// Writes a part of a streamed body. The future completes when the connection can take more;
    /// it fails when the request has ended (failed, or answered early by the server).
    @discardableResult
    public func writeBodyPart(_ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        self.eventLoop.assertInEventLoop()
        self.bodyStreamStarted = true
        switch self.state {
        case .initialized, .queued:
            if self.pendingBody == nil { self.pendingBody = CircularBuffer(initialCapacity: 4) }
            self.pendingBody!.append(buffer)
            return self.writabilityFuture()
        case .running(let connection):
            if connection.writeBodyPart(buffer) { return self.eventLoop.makeSucceededVoidFuture() }
            return self.writabilityFuture()
        case .finished:
            return self.eventLoop.makeFailedFuture(TernClientError(code: .cancelled, phase: .write, detail: "the request has ended"))
        }
    }

    /// Ends a streamed body, with optional trailers.
    public func finishBody(trailers: HTTPHeaders? = nil) {
        self.eventLoop.assertInEventLoop()
        self.bodyStreamStarted = true
        switch self.state {
        case .initialized, .queued: self.pendingEnd = .some(trailers)
        case .running(let connection): connection.finishBody(trailers: trailers)
        case .finished: break
        }
    }

    private func writabilityFuture() -> EventLoopFuture<Void> {
        if let promise = self.writabilityPromise { return promise.futureResult }
        let promise = self.eventLoop.makePromise(of: Void.self)
        self.writabilityPromise = promise
        return promise.futureResult
    }

    func writabilityChanged(_ writable: Bool) {
        if writable, let promise = self.writabilityPromise {
            self.writabilityPromise = nil
            promise.succeed()
        }
        self.delegate.requestBodyWritabilityChanged(writable, execution: self)
    }

    // MARK: Reading the response

    /// Stop reading the response from the socket until `resumeResponseBody()`.
    public func pauseResponseBody() {
        if case .running(let connection) = self.state { connection.pauseReading() }
    }

    public func resumeResponseBody() {
        if case .running(let connection) = self.state { connection.resumeReading() }
    }

    /// Aborts the request: a queued one leaves the queue, a running one closes its connection.
    public func cancel(with error: TernClientError = TernClientError(code: .cancelled, phase: .request)) {
        self.eventLoop.assertInEventLoop()
        switch self.state {
        case .initialized:
            self.fail(error)
        case .queued(let waiter):
            self.pool.waiterLeft(waiter, error: error)
        case .running(let connection):
            connection.abort(error)
        case .finished:
            break
        }
    }

    // MARK: Events from the pool and the connection

    func enqueued(_ waiter: PoolStateMachine.WaiterID) {
        self.state = .queued(waiter)
    }

    /// The pool handed us a connection: send the head, and whatever body we have.
    func attach(_ connection: HTTP1Connection) {
        self.state = .running(connection)
        self.attempts += 1
        connection.start(self)
        if case .stream = self.body {
            while let part = self.pendingBody?.popFirst() { _ = connection.writeBodyPart(part) }
            if let end = self.pendingEnd {
                self.pendingEnd = nil
                connection.finishBody(trailers: end)
            }
            if connection.isWritable { self.writabilityChanged(true) }
        }
    }

    /// `raw` is taken `consuming` (from the codec, through the connection): kept for the delegate
    /// by a move, not a copy.
    func receivedHead(_ head: HTTPResponseHead, facts: HTTP1HeadFacts?, raw: consuming HTTP1RawFields?) {
        self.responseStarted = true
        self.responseFacts = facts
        guard raw != nil else { return self.delegate.responseHead(head, execution: self) }
        guard self.fieldsAsBytes else {
            var head = head
            head.headers = raw!.headers()
            return self.delegate.responseHead(head, execution: self)
        }
        // Not kept past the call: it holds the connection's receive buffer.
        self.responseRawFields = raw
        self.delegate.responseHead(head, execution: self)
        self.responseRawFields = nil
    }

    func receivedBodyPart(_ buffer: ByteBuffer) {
        self.delegate.responseBodyPart(buffer, execution: self)
    }

    func receivedReadComplete() {
        if !self.isFinished { self.delegate.responseReadComplete(execution: self) }
    }

    func receivedEnd(_ trailers: HTTPHeaders?) {
        guard !self.isFinished else { return }
        self.finish()
        self.delegate.responseEnd(trailers, execution: self)
    }

    /// The attempt failed. A request that provably never reached a server which had already
    /// closed the reused connection is sent once more on a fresh one (RFC 9112 §9.3.1).
    func attemptFailed(_ error: TernClientError, connectionWasReused: Bool) {
        if connectionWasReused, !self.responseStarted, self.attempts == 1, self.isRetryable,
            error.isStaleConnectionCandidate, self.pool.configuration.retryStaleConnections
        {
            self.state = .initialized
            self.pool.lease(self, fresh: true)
            return
        }
        self.fail(error)
    }

    private var isRetryable: Bool {
        switch self.body {
        case .stream: if self.bodyStreamStarted { return false }
        case .none, .bytes: break
        }
        switch self.head.method {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: return true
        default: return self.head.headers.contains(name: "idempotency-key")
        }
    }

    func fail(_ error: TernClientError) {
        guard !self.isFinished else { return }
        self.finish()
        self.delegate.responseFailed(error.at(self.pool.address), execution: self)
    }

    private func finish() {
        self.state = .finished
        self.deadlineTask?.cancel()
        self.deadlineTask = nil
        self.pendingBody = nil
        if let promise = self.writabilityPromise {
            // A writer still waiting must stop: the exchange is over (failed, or answered early).
            self.writabilityPromise = nil
            promise.fail(TernClientError(code: .cancelled, phase: .write, detail: "the request has ended"))
        }
    }
}

@available(*, unavailable)
extension RequestExecution: Sendable {}

/// What a caller of the package-level `Agent.execute` knows a request head's fields to hold, from
/// having made them (the proxy, from the parser's facts about the client's head and the rules it
/// applied): the agent then sets the framing and `Host` without reading the fields again, a pass
/// that copies every field out of `HTTPHeaders`. Each must be exactly what reading the fields
/// would find; `testKnownFieldsAreWhatTheFieldsSay` holds the proxy to it.
package struct KnownRequestFields: Equatable, Sendable {
    package var hasHost: Bool
    package var hasContentLength: Bool
    package var hasTransferEncoding: Bool
    /// `Connection` tokens.
    package var connectionClose: Bool
    package var connectionKeepAlive: Bool

    package init(hasHost: Bool, hasContentLength: Bool, hasTransferEncoding: Bool, connectionClose: Bool, connectionKeepAlive: Bool) {
        self.hasHost = hasHost
        self.hasContentLength = hasContentLength
        self.hasTransferEncoding = hasTransferEncoding
        self.connectionClose = connectionClose
        self.connectionKeepAlive = connectionKeepAlive
    }

    /// What reading `fields` finds (what `known` stands in for): one pass, copying each field
    /// out of `HTTPHeaders` once.
    package init(reading fields: HTTPHeaders) {
        self.init(hasHost: false, hasContentLength: false, hasTransferEncoding: false, connectionClose: false, connectionKeepAlive: false)
        for (name, value) in fields {
            switch name.utf8.count {
            case 4 where ASCII.equals(name, "host"):
                self.hasHost = true
            case 10 where ASCII.equals(name, "connection"):
                _ = ASCII.withBytes(value) { HTTP1Fields.readConnection($0, close: &self.connectionClose, keepAlive: &self.connectionKeepAlive) }
            case 14 where ASCII.equals(name, "content-length"):
                self.hasContentLength = true
            case 17 where ASCII.equals(name, "transfer-encoding"):
                self.hasTransferEncoding = true
            default:
                break
            }
        }
    }
}
