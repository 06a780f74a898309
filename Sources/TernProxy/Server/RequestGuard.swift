import Logging
import NIOCore
import NIOHTTP1
import TernClient

/// The rules a request head must pass before the proxy acts on it: RFC 9112 framing that two
/// parsers could read two ways (request smuggling), and the size limits of proxy.conf.
/// Pure: the handler below asks, the answer is a status and a reason for the log.
struct RequestRules: Sendable {
    var maxURILength: Int
    var maxHeaderSize: Int
    var maxHeaderCount: Int

    init(_ limits: ProxyConfiguration.Limits) {
        self.maxURILength = limits.maxURILength
        self.maxHeaderSize = limits.maxHeaderSize
        self.maxHeaderCount = limits.maxHeaderCount
    }

    struct Violation: Error, Equatable, Sendable {
        var status: HTTPResponseStatus
        var reason: String
    }

    /// Whether a head our parser read passes every rule, known from what the parser found on the
    /// way (`facts`) without reading the fields again: the parser has already refused names that
    /// are not tokens and values with control characters. false: `check` tells what is wrong (or
    /// finds nothing, when the framing was merely unusual).
    func accepts(_ head: HTTPRequestHead, facts: HTTP1HeadFacts) -> Bool {
        facts.plainFraming && facts.fieldBytes <= self.maxHeaderSize && facts.fieldCount <= self.maxHeaderCount
            && (facts.hosts == 1 || (facts.hosts == 0 && head.version.minor == 0))
            && head.uri.utf8.count <= self.maxURILength
    }

    /// nil when the head is acceptable.
    func check(_ head: HTTPRequestHead) -> Violation? {
        if head.uri.utf8.count > self.maxURILength {
            return Violation(status: .uriTooLong, reason: "URI of \(head.uri.utf8.count) bytes (max-uri-length \(self.maxURILength))")
        }
        if head.headers.count > self.maxHeaderCount {
            return Violation(
                status: .requestHeaderFieldsTooLarge, reason: "\(head.headers.count) header fields (max-header-count \(self.maxHeaderCount))")
        }
        var size = 0
        var contentLength: Int?
        var contentLengthFields = 0
        var transferEncodings: [Substring] = []
        var hosts = 0
        for (name, value) in head.headers {
            size += name.utf8.count + value.utf8.count
            if !Self.isToken(name) { return Violation(status: .badRequest, reason: "invalid header name") }
            if !Self.isFieldValue(value) { return Violation(status: .badRequest, reason: "control character in the \(name) field") }
            if ASCII.equals(name, "content-length") {
                contentLengthFields += 1
                // The parser's own reading: `5, 5` and repeated equal fields are one length.
                switch ASCII.withBytes(value, { HTTP1Fields.readContentLength($0, into: &contentLength) }) {
                case .valid: break
                case .malformed: return Violation(status: .badRequest, reason: "malformed Content-Length \"\(value)\"")
                case .conflicting: return Violation(status: .badRequest, reason: "conflicting Content-Length values")
                }
            } else if ASCII.equals(name, "transfer-encoding") {
                for coding in value.split(separator: ",", omittingEmptySubsequences: false) {
                    transferEncodings.append(coding.trimmingSpaces)
                }
            } else if ASCII.equals(name, "host") {
                hosts += 1
            }
        }
        if size > self.maxHeaderSize {
            return Violation(status: .requestHeaderFieldsTooLarge, reason: "header fields of \(size) bytes (max-header-size \(self.maxHeaderSize))")
        }
        if !transferEncodings.isEmpty {
            if contentLengthFields > 0 {
                return Violation(status: .badRequest, reason: "both Content-Length and Transfer-Encoding")
            }
            if head.version.major == 1 && head.version.minor == 0 {
                return Violation(status: .badRequest, reason: "Transfer-Encoding in an HTTP/1.0 request")
            }
            guard let last = transferEncodings.last, last.lowercased() == "chunked" else {
                return Violation(status: .badRequest, reason: "Transfer-Encoding whose final coding is not chunked")
            }
            if transferEncodings.count > 1 {
                // gzip, chunked and the like: we do not decode transfer codings, and forwarding
                // them undecoded would change the message.
                if transferEncodings.dropLast().contains(where: { $0.lowercased() == "chunked" }) {
                    return Violation(status: .badRequest, reason: "chunked applied more than once")
                }
                return Violation(status: .notImplemented, reason: "unsupported transfer coding \"\(transferEncodings[0])\"")
            }
        }
        if hosts > 1 { return Violation(status: .badRequest, reason: "more than one Host field") }
        if hosts == 0 && head.version.major == 1 && head.version.minor >= 1 {
            return Violation(status: .badRequest, reason: "HTTP/1.1 request without Host")
        }
        return nil
    }

    /// RFC 9110 §5.6.2 token.
    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(HTTP1Parser.isTokenByte)
    }

    /// RFC 9110 §5.5: visible characters, space, tab and obs-text; no CR, LF, NUL or other controls.
    static func isFieldValue(_ value: String) -> Bool {
        for byte in value.utf8 where (byte < 0x20 && byte != 0x09) || byte == 0x7F {
            return false
        }
        return true
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var slice = self
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }
}

/// Sits between the HTTP/1 server codec (`HTTP1ServerCodec`) and the proxy handler (in place of NIO's
/// `HTTPServerProtocolErrorHandler`). The handler behind it reports each response's head and end
/// (`responseStarted`, `responseEnded`). It answers what the decoder refused (431 for a head over
/// the limits, 400 for the rest), refuses heads that break `RequestRules` or the rate limit, and
/// after any such answer closes the connection: once framing is in doubt, nothing more read from
/// it can be trusted. A refusal that arrives while an earlier (pipelined) response is still being
/// written waits for that response to end.
///
/// Inbound only: responses and flushes do not pass through it. While it waits for a shared
/// rate-limit answer, the handler behind it asks `holdsReads` before passing a read on.
final class RequestGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let rules: RequestRules
    /// This process's buckets; nil when the buckets are in Redis (`sharedRateLimiter`).
    private let rateLimiter: RateLimiter?
    /// Buckets in Redis: a head waits for the answer (`awaitingAdmission`) before going on. It
    /// falls back to its own local bucket when Redis fails.
    private let sharedRateLimiter: SharedRateLimiter?
    /// A head whose admission Redis has not answered yet. Meanwhile everything the decoder hands
    /// up waits in `held`, in order, and reads are held back (`readHeld`).
    private var awaitingAdmission: HTTPRequestHead?
    private var held: [Held] = []
    private var readHeld = false
    private var active = true

    private enum Held {
        case part(HTTPServerRequestPart)
        case error(any Error)
    }
    private let allowList: [AddressRange]
    /// The client's address is not in the listener's `allow` list.
    private var forbidden = false
    private let timer: HeadTimer?
    private let loop: LoopState
    private let logger: Logger
    private var clientAddress = "-"
    /// Requests handed on whose response has not ended.
    private var outstanding = 0
    /// A head was handed on and its request's end has not come yet.
    private var readingBody = false
    /// A response head went out and its end has not.
    private var responseOpen = false
    /// Refused: everything read from now on is dropped.
    private var refusing = false
    private var pending: (status: HTTPResponseStatus, version: HTTPVersion, retryAfter: Int?)?
    private var context: ChannelHandlerContext? { self.link.object }
    private var link = PipelineLink<ChannelHandlerContext>()
    /// The proxy handler right behind, which takes parts by a direct call; it sets and clears this
    /// itself (`ProxyHandler.handlerAdded`).
    var proxy: ProxyHandler? {
        get { self.proxyLink.object }
        set { self.proxyLink.set(newValue) }
    }
    private var proxyLink = PipelineLink<ProxyHandler>()
    /// What the parser found out about the head the codec in front is about to hand over
    /// (`RequestRules.accepts`); taken by that head.
    var headFacts: HTTP1HeadFacts?
    /// The head's fields as bytes (`HTTP1Parser.takeRawFields()`), when its `HTTPHeaders` are
    /// empty: handed on with its facts to the proxy handler, which reads them when it must; read
    /// into the head here whenever it goes anywhere else (held, checked field by field, or
    /// through the pipeline).
    var headLines: HTTP1RawFields?

    init(
        rules: RequestRules, rateLimiter: RateLimiter?, sharedRateLimiter: SharedRateLimiter? = nil, allowList: [AddressRange] = [],
        timer: HeadTimer?, loop: LoopState, logger: Logger
    ) {
        self.rules = rules
        self.rateLimiter = rateLimiter
        self.sharedRateLimiter = sharedRateLimiter
        self.allowList = allowList
        self.timer = timer
        self.loop = loop
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.link.set(context)
        if let address = context.channel.remoteAddress?.ipAddress { self.clientAddress = address }
        self.forbidden = !self.allowList.isEmpty && !self.allowList.allows(context.channel.remoteAddress)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.receive(self.unwrapInboundIn(data), context: context)
    }

    /// A request part from the codec in front by a direct call (`HTTP1ServerCodec.requestGuard`).
    /// Taken `consuming`, as the codec hands it on (`HTTP1ServerCodec.pass`).
    func receive(_ part: consuming HTTPServerRequestPart) {
        guard let context = self.link.borrowed else { return }
        context.withUnsafeGuaranteedRef(passing: part) { self.receive($1, context: $0) }
    }

    private func receive(_ part: consuming HTTPServerRequestPart, context: ChannelHandlerContext) {
        guard !self.refusing else { return }
        if self.awaitingAdmission != nil {
            // A held head is checked field by field when its turn comes; its lines would hold the
            // receive buffer meanwhile.
            self.held.append(.part(part.withFields(from: self.headLines)))
            self.headFacts = nil
            self.headLines = nil
            return
        }
        self.handle(part, context: context)
    }

    /// Hands a part on: to the proxy handler directly when it is the one behind (no `NIOAny` box,
    /// no cast, no hop), else through the pipeline.
    private func pass(_ part: consuming HTTPServerRequestPart, context: ChannelHandlerContext) {
        if let proxy = self.proxyLink.borrowed {
            proxy.withUnsafeGuaranteedRef(passing: part) { $0.receive($1) }
        } else {
            context.fireChannelRead(self.wrapInboundOut(part))
        }
    }

    private func handle(_ part: consuming HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch consume part {
        case .head(let head):
            self.timer?.headComplete()
            // Moved out (`take`), not copied and cleared: no retain and release of the receive buffer.
            let facts = self.headFacts.take()
            let lines = self.headLines.take()
            if self.forbidden {
                return self.refuse(.forbidden, reason: "client address not in the listener's allow list", version: head.version, context: context)
            }
            let accepted = if let facts { self.rules.accepts(head, facts: facts) } else { false }
            if let fields = lines, !accepted || self.proxy == nil || self.sharedRateLimiter != nil {
                // Checked field by field, passed through the pipeline, or held for Redis's answer:
                // the head goes on with its fields as values.
                var head = head
                head.headers = fields.headers()
                return self.admit(head, facts: facts, lines: nil, accepted: accepted, context: context)
            }
            return self.admit(head, facts: facts, lines: lines, accepted: accepted, context: context)
        case .end(let trailers):
            self.readingBody = false
            self.timer?.requestEnded()
            self.pass(.end(trailers), context: context)
        case .body(let buffer):
            self.pass(.body(buffer), context: context)
        }
    }

    /// The rest of a head's checks (the rules, if its facts did not settle them, and the rate
    /// limits), then on to the proxy handler with its lines. `head` and `lines` are taken
    /// `consuming`: moved on, not copied (a retain apiece) and released here.
    private func admit(
        _ head: consuming HTTPRequestHead, facts: HTTP1HeadFacts?, lines: consuming HTTP1RawFields?, accepted: Bool, context: ChannelHandlerContext
    ) {
        if !accepted, let violation = self.rules.check(head) {
            return self.refuse(violation.status, reason: violation.reason, version: head.version, context: context)
        }
        if let shared = self.sharedRateLimiter {
            self.awaitingAdmission = head
            shared.admit(self.clientAddress, on: context.eventLoop).assumeIsolated().whenSuccess { wait in
                self.admitted(wait, context: context)
            }
            return
        }
        if let limiter = self.rateLimiter, let wait = limiter.admit(self.clientAddress) {
            return self.refuseRate(wait, version: head.version, context: context)
        }
        self.requestAdmitted()
        if let proxy = self.proxyLink.borrowed {
            var lines = consume lines  // a local the closure can take from
            proxy._withUnsafeGuaranteedRef {
                $0.requestFacts = facts
                $0.requestHeadLines = lines.take()
            }
        }
        self.pass(.head(consume head), context: context)
    }

    /// A head passed every check: its request is under way until its response ends.
    private func requestAdmitted() {
        self.outstanding += 1
        self.readingBody = true
        self.timer?.responseInProgress = true
    }

    private func refuseRate(_ wait: Int, version: HTTPVersion, context: ChannelHandlerContext) {
        self.refuse(.tooManyRequests, reason: "rate limit", version: version, retryAfter: wait, context: context)
    }

    /// Redis answered for the head in `awaitingAdmission` (the limiter never fails: Redis
    /// trouble falls back to the local bucket). What was held meanwhile is handled in order.
    private func admitted(_ wait: Int?, context: ChannelHandlerContext) {
        guard let head = self.awaitingAdmission else { return }
        self.awaitingAdmission = nil
        guard self.active, !self.refusing else {
            self.held.removeAll()
            return
        }
        if let wait {
            self.held.removeAll()
            return self.refuseRate(wait, version: head.version, context: context)
        }
        self.requestAdmitted()
        self.pass(.head(head), context: context)
        var index = 0
        while index < self.held.count, self.awaitingAdmission == nil, !self.refusing, self.active {
            let item = self.held[index]
            index += 1
            switch item {
            case .part(let part): self.handle(part, context: context)
            case .error(let error): self.errorCaught(context: context, error: error)
            }
        }
        if self.refusing || !self.active {
            self.held.removeAll()
        } else {
            self.held.removeFirst(index)
        }
        if self.active && !self.refusing { context.fireChannelReadComplete() }
        if self.awaitingAdmission == nil && self.readHeld {
            self.readHeld = false
            context.read()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.awaitingAdmission != nil { return }  // passed on with the held parts
        context.fireChannelReadComplete()
    }

    /// Whether reads must wait (a head's admission is being asked of Redis). The handler behind
    /// then calls `holdRead()` instead of passing its read on; the guard reads when the answer came.
    var holdsReads: Bool { self.awaitingAdmission != nil }

    func holdRead() {
        self.readHeld = true
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.active = false
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.link.set(nil)
        self.proxy = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.awaitingAdmission != nil, error is HTTPParserError, !self.refusing {
            self.held.append(.error(error))  // after the parts decoded before it
            return
        }
        if let error = error as? HTTPParserError, !self.refusing {
            let status: HTTPResponseStatus = error == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            self.refusing = true
            self.log(status, reason: "unparsable request: \(error)")
            if self.readingBody {
                // The error is in the body of the request under way (a bad chunk): it gets the
                // answer if none has begun, and closing cancels the exchange upstream.
                if !self.responseOpen { self.writeRefusal(status, version: .http1_1, retryAfter: nil, context: context) }
            } else if self.outstanding == 0 && !self.responseOpen {
                self.writeRefusal(status, version: .http1_1, retryAfter: nil, context: context)
            } else {
                // A bad head pipelined behind requests still being answered: those answers go out
                // first, then this one, then the close. The decoder drops what follows.
                self.pending = (status, .http1_1, nil)
                return
            }
        } else if self.refusing {
            // The decoder's complaints about data after its error: already answered or pending.
            if self.pending != nil { return }
        } else {
            // TLS handshakes that fail (garbage, plain HTTP on a TLS port), resets: the connection
            // ends; say why. Resets and the like are everyday, so they stay at debug.
            let level: Logger.Level = error is IOError ? .debug : .info
            self.logger.log(level: level, "connection closed on error", metadata: ["client": "\(self.clientAddress)", "error": "\(error)"])
        }
        context.fireErrorCaught(error)
    }

    private func refuse(
        _ status: HTTPResponseStatus, reason: String, version: HTTPVersion, retryAfter: Int? = nil, context: ChannelHandlerContext
    ) {
        self.refusing = true
        self.log(status, reason: reason)
        if self.outstanding == 0 && !self.responseOpen {
            self.writeRefusal(status, version: version, retryAfter: retryAfter, context: context)
        } else {
            self.pending = (status, version, retryAfter)
        }
    }

    private func log(_ status: HTTPResponseStatus, reason: String) {
        self.logger.info(
            "request refused", metadata: ["client": "\(self.clientAddress)", "status": "\(status.code)", "reason": "\(reason)"])
    }

    private func writeRefusal(_ status: HTTPResponseStatus, version: HTTPVersion, retryAfter: Int?, context: ChannelHandlerContext) {
        let body = self.loop.runtime.pages.page(for: Int(status.code))
        var headers = HTTPHeaders()
        headers.add(name: "Date", value: self.loop.dateCache.current)
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        if let retryAfter { headers.add(name: "Retry-After", value: String(retryAfter)) }
        headers.add(name: "Connection", value: "close")
        let version = version.major == 1 ? version : .http1_1
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    // MARK: Responses, as the handler behind says (no look at every outbound part: unwrapping each
    // one cost a cast per part on every response)

    /// A final response head (or a 101) is being written.
    func responseStarted() {
        self.responseOpen = true
    }

    /// A response's end has been written (not yet flushed): a refusal waiting for it follows it.
    func responseEnded() {
        self.responseOpen = false
        self.outstanding = max(0, self.outstanding - 1)
        guard self.outstanding == 0 else { return }
        self.timer?.responseInProgress = false
        if let pending = self.pending, let context = self.context {
            self.pending = nil
            self.writeRefusal(pending.status, version: pending.version, retryAfter: pending.retryAfter, context: context)
        }
    }
}

@available(*, unavailable)
extension RequestGuard: Sendable {}

/// `header-timeout`: a request head must arrive whole within this time, counted from the
/// connection's start, or from the first byte of a request after the previous one was read. Sits
/// before the HTTP decoder (after TLS), so it sees raw bytes; `RequestGuard` tells it when heads
/// and requests end. A connection that sent part of a head gets 408; one that sent nothing (or a
/// TLS handshake that never finished) is closed without an answer.
///
/// `keepalive-timeout`: a connection whose last request was read whole and answered, and that has
/// sent nothing since, is closed once it has been idle this long (nginx counts the same way). This
/// was NIO's `IdleStateHandler` behind the codec; here it costs no handler in the path of every
/// request part, response part and flush, and it counts from the response's end, not from the
/// last byte read (a slow upstream no longer eats into the client's idle time).
///
/// Inbound only, so that no response part or flush passes through it on the way out (its one
/// write, the 408, starts at its own place in the pipeline).
final class HeadTimer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State {
        /// Waiting for a head; `bytes`: some of it has come.
        case awaitingHead(bytes: Bool)
        /// A head came; its body is being read.
        case inRequest
        /// The last request was read whole; the next byte starts the clock again.
        case between
    }

    private let timeout: TimeAmount
    /// Zero: connections are not kept idle (the proxy closes them after one exchange).
    private let keepAliveTimeout: TimeAmount
    private let logger: Logger
    private var state = State.awaitingHead(bytes: false)
    /// When the head now awaited must be complete; nil while no head is awaited.
    private var deadline: NIODeadline?
    /// When an idle connection is closed; nil while it is not idle.
    private var idleDeadline: NIODeadline?
    /// At most one timer per connection, re-armed lazily: a keep-alive connection's requests
    /// move `deadline` and do not schedule or cancel anything (that was a tenth of a cache hit's
    /// CPU time), as NIO's `IdleStateHandler` does.
    private var task: Scheduled<Void>?
    private var scheduledAt: NIODeadline?
    private var context: ChannelHandlerContext?
    /// The codec right behind, which takes bytes by a direct call (set by
    /// `ListenerGuards.addHTTPHandlers`).
    var codec: HTTP1ServerCodec? {
        get { self.codecLink.object }
        set { self.codecLink.set(newValue) }
    }
    private var codecLink = PipelineLink<HTTP1ServerCodec>()
    /// Set by `RequestGuard`: a response is under way, so no 408 can be written in between.
    var responseInProgress = false {
        didSet { if !self.responseInProgress, case .between = self.state { self.becameIdle() } }
    }

    init(timeout: TimeAmount, keepAliveTimeout: TimeAmount = .zero, logger: Logger) {
        self.timeout = timeout
        self.keepAliveTimeout = keepAliveTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.arm() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.task?.cancel()
        self.task = nil
        self.context = nil
        self.codec = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if self.deadline == nil, case .awaitingHead = self.state { self.arm() }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.task?.cancel()
        self.task = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.noteBytes()
        if let codec = self.codecLink.borrowed {
            codec._withUnsafeGuaranteedRef { $0.receive(self.unwrapInboundIn(data)) }
        } else {
            context.fireChannelRead(data)
        }
    }

    /// Not passed on while the codec is linked: nothing behind it (codec, guard, proxy handler or
    /// HTTPS redirect) acts on the end of a read cycle, and passing it through them was four hops
    /// per request. A protocol switch removes this handler before the tunnel, which does use it.
    func channelReadComplete(context: ChannelHandlerContext) {
        if self.codec == nil { context.fireChannelReadComplete() }
    }

    private func noteBytes() {
        switch self.state {
        case .awaitingHead(bytes: false):
            self.state = .awaitingHead(bytes: true)
        case .between:
            self.state = .awaitingHead(bytes: true)
            self.idleDeadline = nil
            self.arm()
        case .awaitingHead(bytes: true), .inRequest:
            break
        }
    }

    func headComplete() {
        self.deadline = nil
        self.state = .inRequest
    }

    func requestEnded() {
        guard case .inRequest = self.state else { return }
        self.state = .between
        if !self.responseInProgress { self.becameIdle() }  // answered before its body was read
    }

    private func arm() {
        let deadline = NIODeadline.coarseNow() + self.timeout
        self.deadline = deadline
        self.wake(by: deadline)
    }

    /// The last request was read and answered: the keep-alive clock starts.
    private func becameIdle() {
        guard self.keepAliveTimeout > .zero else { return }
        let deadline = NIODeadline.coarseNow() + self.keepAliveTimeout
        self.idleDeadline = deadline
        self.wake(by: deadline)
    }

    /// Makes sure the timer fires no later than `deadline`. Deadlines of one kind only move later,
    /// so a busy connection reschedules at most once per firing (when an idle period shorter than
    /// the header timeout follows a head).
    private func wake(by deadline: NIODeadline) {
        if let task = self.task {
            guard let scheduled = self.scheduledAt, deadline < scheduled else { return }
            task.cancel()
        }
        self.schedule(at: deadline)
    }

    private func schedule(at deadline: NIODeadline) {
        guard let context = self.context else { return }
        self.scheduledAt = deadline
        // Captured strongly (the task is cancelled when the channel goes inactive or the handler is
        // removed): `weak` would give this handler a side table, making every retain and release of
        // it, one per pipeline hop, take the runtime's slow path.
        self.task = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.fired()
        }
    }

    private func fired() {
        self.task = nil
        let now = NIODeadline.now()
        if let deadline = self.deadline, deadline <= now { return self.expired() }
        if let idle = self.idleDeadline, idle <= now {
            self.idleDeadline = nil
            if case .between = self.state, !self.responseInProgress, let context = self.context {
                context.close(promise: nil)
                return
            }
        }
        // A later head or idle period than the one this timer was set for: its own deadline.
        switch (self.deadline, self.idleDeadline) {
        case (let head?, let idle?): self.schedule(at: min(head, idle))
        case (let head?, nil): self.schedule(at: head)
        case (nil, let idle?): self.schedule(at: idle)
        case (nil, nil): break
        }
    }

    private func expired() {
        self.deadline = nil
        guard let context = self.context, case .awaitingHead(let bytes) = self.state else { return }
        let client = context.channel.remoteAddress?.ipAddress ?? "-"
        if bytes && !self.responseInProgress {
            self.logger.info("request refused", metadata: ["client": "\(client)", "status": "408", "reason": "head not complete within header-timeout"])
            let response = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(NIOAny(ByteBuffer(string: response)), promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else if !self.responseInProgress {
            self.logger.debug("connection closed", metadata: ["client": "\(client)", "reason": "nothing within header-timeout"])
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension HeadTimer: Sendable {}
