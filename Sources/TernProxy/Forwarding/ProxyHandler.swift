import NIOCore
import NIOHTTP1
import NIOExtras
import TernClient

/// Twisted's `ReverseProxyResource`, for one downstream connection: each request is routed,
/// forwarded through the agent on this connection's own event loop, and its response streamed
/// back as it comes. One exchange at a time: a pipelined request (RFC 9112 §9.3.2) that arrives
/// while one is under way is queued, and reading stops until the exchange is done. We do this here
/// rather than with NIO's `HTTPServerPipelineHandler`, which toggles read interest on every request
/// (two `epoll_ctl` calls each, DESIGN.md).
///
/// Backpressure both ways, by holding `read`: the client's body is read only while the upstream
/// connection is writable, and the upstream response only while this connection is writable.
/// Once the response head has gone out, a failure can only abort the connection (as Go's
/// ReverseProxy does): the client must not mistake a truncated body for a whole one.
final class ProxyHandler: ChannelDuplexHandler, ResponseDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum State {
        case idle
        /// An exchange with an upstream is under way.
        case forwarding
        /// We answered ourselves and are reading (and ignoring) the rest of the request.
        case draining
        /// The cache is looking up, waiting for another request to fill the key, or sending a
        /// stored response chunk by chunk.
        case caching
    }

    let agent: Agent
    let loop: LoopState
    let scheme: String
    /// This handler's context, its strong reference (`link.borrowed` on the response's path).
    var context: ChannelHandlerContext? { self.link.object }
    private var link = PipelineLink<ChannelHandlerContext>()
    var clientAddress = "-"

    var state = State.idle
    var runtime: ProxyRuntime?
    var route: CompiledRoute?
    var balancer: LoopBalancer? {
        get { self.balancerLink.object }
        set { self.balancerLink.set(newValue) }
    }
    /// `balancer`, and the health of the server picked (for `recordSuccess`), also uncounted: read
    /// where the response comes, they were a retain and a release each, the group's and the
    /// server's too.
    private var balancerLink = PipelineLink<LoopBalancer>()
    private var healthLink = PipelineLink<ServerHealth>()
    var serverIndex = -1
    var tried: UInt64 = 0
    /// The failure of the last server tried, which decides the status when none is left.
    var lastFailure: TernClientError?
    /// The client's head. When it came with its fields as bytes (`requestLines`), its `HTTPHeaders`
    /// are read from them the first time anyone asks for the head; a plain GET passed on as it came
    /// never does (`forwardToUpstream` reads `clientHead` and the lines).
    var requestHead: HTTPRequestHead? {
        get {
            if self.requestFieldsPending {
                self.requestFieldsPending = false
                if let lines = self.requestLines { self.clientHead?.headers = lines.headers() }
            }
            return self.clientHead
        }
        set {
            self.clientHead = newValue
            self.requestFieldsPending = false
        }
    }
    /// The client's fields as the cache reads them: from its lines while they are still bytes (a
    /// plain request's hit makes `String`s only of the fields its stored response varies on),
    /// else from its head.
    var cacheFields: RequestFieldLines {
        if self.requestFieldsPending, let lines = self.requestLines { return .lines(lines) }
        return .headers(self.clientHead?.headers ?? HTTPHeaders())
    }
    /// The client's head as it was handed on: with empty `HTTPHeaders` while `requestFieldsPending`.
    private(set) var clientHead: HTTPRequestHead?
    /// The client's fields are in `requestLines` only, not yet in `clientHead`'s `HTTPHeaders`.
    private var requestFieldsPending = false
    /// The client's `Host` field (the first), read once at the exchange's start.
    var requestHost: String?
    /// Read from the exchange's head, route and configuration once, at its start: the response's
    /// path reads these plain values rather than copying the head (two retains and two releases)
    /// or following the route and runtime objects again.
    var requestVersion = HTTPVersion.http1_1
    var addsVia = true
    var rewritesResponseFields = false
    /// What the parser noted about the fields of the head the guard is about to hand over
    /// (`HTTP1HeadFacts`), for `beginExchange` to read instead of the fields; taken by that head.
    var requestFacts: HTTP1HeadFacts?
    var upstreamHead: HTTPRequestHead?
    /// What `upstreamHead`'s fields are known to hold, for the agent (`upstreamKnownFields`).
    var upstreamKnown: KnownRequestFields?
    /// The client's lines that go upstream before `upstreamHead`'s fields, and which of them not
    /// (`passesLinesOn`).
    var upstreamLines: (HTTP1RawFields, omitting: UInt64)?
    var execution: RequestExecution?
    var bodyMode = RequestBody.none
    /// What the parser noted of the client's fields (`upstreamKnownFields`, `passesLinesOn`, `Expect`); nil
    /// for a head read field by field.
    var requestFieldFacts: HTTP1HeadFacts?
    /// The fields as bytes (`HTTP1Parser.takeRawFields()`) of the head the guard in front hands on
    /// next, set with `requestFacts`, when that head's `HTTPHeaders` are empty; taken by the
    /// exchange it begins (`requestLines`).
    var requestHeadLines: HTTP1RawFields?
    /// The client's field lines as they came, until the exchange is done.
    var requestLines: HTTP1RawFields?
    var bodyBytes = 0
    var bodyStarted = false
    var requestEnded = false
    /// Set just before a final response head is written; the request guard is told.
    var responseHeadSent = false {
        didSet { if self.responseHeadSent && !oldValue { self.guardLink.borrowed?._withUnsafeGuaranteedRef { $0.responseStarted() } } }
    }
    /// The listener's guard in front of this handler (nil in pipelines without one).
    var requestGuard: RequestGuard? { self.guardLink.object }
    private var guardLink = PipelineLink<RequestGuard>()
    /// The codec in front: response parts are handed to it directly (`write(_:)`).
    var codec: HTTP1ServerCodec? { self.codecLink.object }
    private var codecLink = PipelineLink<HTTP1ServerCodec>()
    var responseStatus: UInt = 0
    var bytesSent = 0
    var keepAlive = true
    var upstreamWritable = true
    /// Whether the client's channel takes more writes, as its writability events say (NIO fires
    /// them as the watermarks are crossed, within the write that crosses one). Asking
    /// `context.channel.isWritable` after every body part, through the pipeline's channel and an
    /// existential call, was about 2.5% of the proxy's CPU time on a proxied 1 KiB request.
    var clientWritable = true
    var readPending = false
    var responsePaused = false
    /// When the exchange began: set only while something records durations (access log, metrics).
    var startTime = NIODeadline.uptimeNanoseconds(0)
    /// The fields we add to a head whose client lines go upstream as they came (`X-Forwarded-*`,
    /// `Via`), written out as lines, kept for the next exchange on this connection: they change
    /// only with its `Host`, its version or the forwarding settings, so a keep-alive client's
    /// requests share one copy rather than each building its own, and the writer copies them as
    /// one stretch rather than field by field (`Agent.execute(…addedLines:…)`).
    /// A class, not a tuple: taking a tuple out of the optional to compare copied its string and
    /// fields (two retains, two releases) on every request.
    private var addedFields: AddedFields?
    private final class AddedFields {
        let host: String?
        let version: HTTPVersion
        let forwarding: ProxyConfiguration.Forwarding
        /// Nil when there are none (`x-forwarded off`, `via off`).
        let lines: HTTP1RawFields?

        init(host: String?, version: HTTPVersion, forwarding: ProxyConfiguration.Forwarding, fields: HTTPHeaders) {
            self.host = host
            self.version = version
            self.forwarding = forwarding
            self.lines = fields.isEmpty ? nil : HTTP1RawFields(writing: fields)
        }

        /// Whether these are the fields for an exchange with this `Host`, version and settings.
        func fit(host: String?, version: HTTPVersion, forwarding: ProxyConfiguration.Forwarding) -> Bool {
            self.host == host && self.version == version && self.forwarding == forwarding
        }
    }
    var quiescing = false
    var closed = false
    var requestsServed = 0
    /// Parts of pipelined requests waiting for the exchange under way.
    var queued = CircularBuffer<HTTPServerRequestPart>()
    var runningQueued = false
    /// Counts exchanges, so an asynchronous cache callback for an earlier one does nothing.
    var exchangeID = 0
    // The cache's part of the exchange (ProxyHandler+Cache.swift).
    var cacheMode = CacheMode.off
    var cacheKey: CacheKey?
    var cacheStatus = CachePolicy.CacheStatus()
    var cacheWriter: (any CacheWriter)?
    var cacheLease = false
    var cacheRequestTime: Int64 = 0
    /// The request's cache-relevant fields, looked for once per exchange (nil until a lookup).
    var requestTraits: CachePolicy.RequestTraits?
    /// Sent from the cache when the upstream's exchange ends (after a 304, or stale-if-error).
    var cacheAnswer: CachedResponse?
    var serving: ServingState?

    init(agent: Agent, loop: LoopState, scheme: String) {
        self.agent = agent
        self.loop = loop
        self.scheme = scheme
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.link.set(context)
        self.guardLink.set(try? context.pipeline.syncOperations.handler(type: RequestGuard.self))
        self.requestGuard?.proxy = self  // it hands request parts to `receive(_:)` directly
        self.codecLink.set(try? context.pipeline.syncOperations.handler(type: HTTP1ServerCodec.self))
        self.clientWritable = context.channel.isWritable
        if let address = context.channel.remoteAddress?.ipAddress { self.clientAddress = address }
        else if context.channel.remoteAddress != nil || context.channel.localAddress?.protocol == .unix { self.clientAddress = "unix" }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.link.set(nil)
        self.requestGuard?.proxy = nil
        self.guardLink.set(nil)
        self.codecLink.set(nil)
    }

    // MARK: The request

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // `self.unwrapInboundIn`, not `Self.`, in every handler of ours: Swift 6.3 specializes NIO's
        // instance helper for the handler's types, but calls the static one unspecialized, which
        // builds the part's generic metadata again at every call (a tenth of NIOCore's share).
        self.receive(self.unwrapInboundIn(data), context: context)
    }

    /// A request part from the guard in front by a direct call (`RequestGuard.proxy`).
    /// Taken `consuming`, as the guard hands it on (`RequestGuard.pass`); the context borrowed
    /// from the link, not loaded (a retain and a release).
    func receive(_ part: consuming HTTPServerRequestPart) {
        guard let context = self.link.borrowed else { return }
        context.withUnsafeGuaranteedRef(passing: part) { self.receive($1, context: $0) }
    }

    private func receive(_ part: consuming HTTPServerRequestPart, context: ChannelHandlerContext) {
        if !self.queued.isEmpty || (self.state != .idle && part.isHead) {
            if part.isHead {
                // A queued head is read field by field in its turn; its lines would hold the
                // receive buffer meanwhile.
                self.queued.append(part.withFields(from: self.requestHeadLines))
                self.requestFacts = nil
                self.requestHeadLines = nil
            } else {
                self.queued.append(part)
            }
            return
        }
        self.handle(part, context: context)
    }

    private func handle(_ part: consuming HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch consume part {
        case .head(let head):
            self.beginExchange(head, context: context)
        case .body(let buffer):
            self.requestBodyPart(buffer)
        case .end(let trailers):
            self.requestEnded = true
            switch self.state {
            case .forwarding:
                // A request without a body went out whole with its head (the agent wrote its end).
                if case .none = self.bodyMode { break }
                self.execution?.finishBody(trailers: trailers)
            case .draining:
                self.finishExchange()
            case .idle, .caching:
                break
            }
        }
    }

    private func beginExchange(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        // Moved out (`take`), not copied and then cleared: no retain and release of the lines' buffer.
        let facts = self.requestFacts.take()
        let lines = self.requestHeadLines.take()
        self.resetExchange()
        // Read from the lines before they are moved into the handler (a copy kept them both).
        let hostField = if let lines { lines.first(name: "host") } else { head.headers.first(name: "host") }
        let fieldsPending = lines != nil
        self.requestLines = consume lines
        self.requestFieldFacts = facts
        let runtime = self.loop.runtime
        if self.runtime !== runtime { self.runtime = runtime }  // the same but after a reload
        self.requestHead = head
        self.requestFieldsPending = fieldsPending
        self.requestHost = hostField
        self.requestVersion = head.version
        self.addsVia = runtime.configuration.forwarding.via
        // `keepalive-timeout 0`: every connection serves one exchange.
        self.keepAlive = (facts?.keepsAlive(head.version) ?? head.keepsAlive) && runtime.configuration.limits.keepAliveTimeout > .zero
        // The clock only for what records a duration: the access log and the admin's metrics (both
        // set for the loop's life when the server starts).
        if self.loop.accessLog != nil || self.loop.metrics != nil { self.startTime = .now() }

        guard let route = runtime.router.match(hostField: hostField, path: head.uri[...]) else {
            self.route = nil  // the metrics record no route for it
            return self.respondLocally(.notFound)
        }
        if self.route !== route { self.route = route }
        self.rewritesResponseFields = route.rewritesResponseFields
        if let status = route.fixedStatus {
            return self.respondLocally(status, body: route.fixedBody, contentType: "text/plain; charset=utf-8")
        }
        guard let group = route.upstream else { return self.respondLocally(.internalServerError) }
        if facts?.hasUpgrade ?? head.headers.contains(name: "upgrade"), let head = self.requestHead,
            self.beginUpgrade(head, route: route, group: group, context: context)
        {
            return  // a WebSocket or other protocol switch: UpgradeTunnel.swift
        }

        // Body framing. The parser and RequestGuard have already refused conflicting or malformed
        // framing (400).
        if facts?.hasTransferEncoding ?? head.headers.contains(name: "transfer-encoding") {
            self.bodyMode = .stream(length: nil)
        } else if let length = facts.map({ $0.contentLength }) ?? HTTP1Fields.contentLength(head.headers) {
            if length > route.maxBodySize { return self.respondLocally(.payloadTooLarge, close: true) }
            self.bodyMode = length == 0 ? .none : .stream(length: length)
        }
        // The cache reads the fields it needs (`Vary`'s, directives, conditions) from the lines.
        if let cache = self.loop.cache, !route.cacheDisabled, self.cacheRequest(head, cache: cache, context: context)
        {
            return
        }
        self.forwardToUpstream(route: route, runtime: runtime, context: context)
    }

    /// Builds the upstream request (hop-by-hop fields out, X-Forwarded-* and Via, route rules,
    /// validators when revalidating a stored response) and starts the exchange.
    func forwardToUpstream() {
        guard let route = self.route, let runtime = self.runtime, let context = self.context else { return }
        self.forwardToUpstream(route: route, runtime: runtime, context: context)
    }

    /// `forwardToUpstream` with what the exchange's start already holds, borrowed: loading them
    /// from `self` again retained each for the call and released it after.
    private func forwardToUpstream(route: CompiledRoute, runtime: ProxyRuntime, context: ChannelHandlerContext) {
        guard var upstream = self.clientHead, let group = route.upstream, !self.closed else { return }
        // The client's head with our fields: its method, target and version are kept in storage the
        // two heads share until one of them changes (most routes change none: no allocation). They
        // are read from this copy before anything changes them (one copy of the client's head, not
        // two: a retain and a release fewer).
        let forwarding = runtime.configuration.forwarding
        if let lines = self.requestLines, let facts = self.requestFieldFacts,
            self.cacheMode.leavesConditionsAlone || self.requestTraits?.leavesUpstreamAlone == true,
            Self.passesLinesOn(
                facts, method: upstream.method, rewritesFields: route.rewritesRequestFields, keepsHost: route.keepsHost, forwarding: forwarding)
        {
            // The client's lines go on as they came but for those `upstreamFields` leaves out (the
            // writer skips them by bit), then the lines of those we add (`addedFields`); the head
            // has no fields of its own. No `String` is made of the client's fields.
            if self.addedFields?.fit(host: self.requestHost, version: upstream.version, forwarding: forwarding) != true {
                let fields = self.upstreamFields(upstream, forwarding: forwarding, copying: HTTPHeaders())
                self.addedFields = AddedFields(host: self.requestHost, version: upstream.version, forwarding: forwarding, fields: fields)
            }
            if !upstream.headers.isEmpty { upstream.headers = HTTPHeaders() }
            self.upstreamLines = (lines, facts.hopByHop | (forwarding.xForwarded ? facts.xForwarded : 0))
        } else {
            if let head = self.requestHead { upstream = head }  // the fields, read from the lines if need be
            upstream.headers = self.upstreamFields(upstream, forwarding: forwarding)
        }
        let uri = route.upstreamURI(upstream.uri)
        if uri != upstream.uri { upstream.uri = uri }
        if upstream.version != .http1_1 { upstream.version = .http1_1 }
        if route.rewritesRequestFields { HeaderRewriting.apply(route.config.requestHeaders, to: &upstream.headers) }
        if !route.keepsHost, case .set(let value) = route.config.hostHeader { upstream.headers.replaceOrAdd(name: "Host", value: value) }
        switch self.cacheMode {
        case .fill, .revalidate:
            // The cache wants the whole, unconditional response (its own validators aside); the
            // client's conditions and ranges are answered from what is stored.
            for name in ["if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "range", "if-range"] {
                upstream.headers.remove(name: name)
            }
            if case .revalidate(let stored) = self.cacheMode {
                for (name, value) in CachePolicy.validators(for: stored.headers) { upstream.headers.add(name: name, value: value) }
            }
        case .off, .invalidate:
            break
        }
        if !route.rewritesRequestFields ? self.requestFieldFacts?.hasExpect ?? upstream.headers.contains(name: "expect")
            : upstream.headers.contains(name: "expect")
        {
            // We answer `100 Continue` ourselves (as nginx does) and send the body on when we have it.
            upstream.headers.remove(name: "expect")
            // The client's own fields (read from its lines by now: a head with `Expect` does not
            // pass them on as they came).
            if let head = self.requestHead, head.headers[canonicalForm: "expect"].contains(where: { ASCII.equals($0, "100-continue") }) {
                context.writeAndFlush(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        }
        self.upstreamHead = upstream
        self.upstreamKnown = Self.upstreamKnownFields(self.requestFieldFacts, rewritesFields: route.rewritesRequestFields, keepsHost: route.keepsHost)
        let balancer = self.loop.balancer(for: group, generation: runtime.generation)
        if self.balancer !== balancer { self.balancer = balancer }
        self.startUpstream(route: route, group: group, balancer: balancer, head: upstream, context: context)
    }

    /// The client's fields as the upstream gets them: `HeaderRewriting.upstreamFields` with what
    /// this connection knows.
    /// `copying`: the fields to start from, if not the head's (none, when its lines go on as bytes).
    func upstreamFields(_ head: HTTPRequestHead, forwarding: ProxyConfiguration.Forwarding, copying fields: HTTPHeaders? = nil) -> HTTPHeaders {
        HeaderRewriting.upstreamFields(
            fields ?? head.headers,
            forwarded: forwarding.xForwarded
                ? HeaderRewriting.Forwarded(client: self.clientAddress, proto: self.scheme, host: self.requestHost) : nil,
            via: forwarding.via ? HeaderRewriting.via(head.version) : nil
        )
    }

    /// Whether the client's field lines can go upstream as they came, the writer leaving out the
    /// hop-by-hop and `X-Forwarded-*` lines by their bits (`HTTP1HeadFacts`), rather than be
    /// copied field by field (`upstreamFields`): only when that is all `upstreamFields` and the
    /// route would change. Not for a `Via` to extend, a `Connection` naming other fields, framing
    /// fields (the agent sets those), `Expect` (we answer it), request rules or a `Host` of the
    /// route's, or fields past the 64th (no bit); and only for GET and HEAD, whose stale-connection
    /// retry does not depend on their fields (`Idempotency-Key`).
    static func passesLinesOn(
        _ facts: HTTP1HeadFacts, method: HTTPMethod, route: ProxyConfiguration.Route, forwarding: ProxyConfiguration.Forwarding
    ) -> Bool {
        Self.passesLinesOn(
            facts, method: method, rewritesFields: !route.requestHeaders.isEmpty, keepsHost: route.hostHeader == .keep, forwarding: forwarding)
    }

    /// `passesLinesOn` with what it reads of the route (`CompiledRoute`'s plain values).
    static func passesLinesOn(
        _ facts: HTTP1HeadFacts, method: HTTPMethod, rewritesFields: Bool, keepsHost: Bool, forwarding: ProxyConfiguration.Forwarding
    ) -> Bool {
        (method.isGET || method.isHEAD) && facts.coversAllFields && !facts.connectionNamesOthers && !(facts.hasVia && forwarding.via)
            && !facts.hasContentLength && !facts.hasTransferEncoding && !facts.hasExpect && !rewritesFields && keepsHost
    }

    /// What the upstream head's fields hold that the agent would otherwise read them for
    /// (`KnownRequestFields`), known from the client's: `upstreamFields` leaves out every
    /// hop-by-hop field (`Connection`, `Transfer-Encoding` among them) and keeps `Content-Length`
    /// and `Host` unless `Connection` names them; the route sets `Host` unless it keeps the
    /// client's. Nil when the route's request rules may have changed any of it, or the client's
    /// head came without facts.
    static func upstreamKnownFields(_ facts: HTTP1HeadFacts?, route: ProxyConfiguration.Route) -> KnownRequestFields? {
        Self.upstreamKnownFields(facts, rewritesFields: !route.requestHeaders.isEmpty, keepsHost: route.hostHeader == .keep)
    }

    /// `upstreamKnownFields` with what it reads of the route (`CompiledRoute`'s plain values).
    static func upstreamKnownFields(_ facts: HTTP1HeadFacts?, rewritesFields: Bool, keepsHost: Bool) -> KnownRequestFields? {
        guard let facts, !facts.connectionNamesOthers, !rewritesFields else { return nil }
        return KnownRequestFields(
            hasHost: facts.hosts > 0 || !keepsHost, hasContentLength: facts.hasContentLength,
            hasTransferEncoding: false, connectionClose: false, connectionKeepAlive: false)
    }

    private func startUpstream() {
        guard let route = self.route, let group = route.upstream, let balancer = self.balancer,
            let head = self.upstreamHead, let context = self.context
        else { return }
        self.startUpstream(route: route, group: group, balancer: balancer, head: head, context: context)
    }

    /// `startUpstream` with what the caller holds, borrowed, as `forwardToUpstream(route:…)`.
    /// `head` is taken `consuming`, down to the agent: moved into the exchange, not copied.
    private func startUpstream(
        route: CompiledRoute, group: UpstreamGroup, balancer: LoopBalancer, head: consuming HTTPRequestHead, context: ChannelHandlerContext
    ) {
        let hashKey: UInt64?
        switch group.balance {
        case .hashClientAddress: hashKey = fnv1a(self.clientAddress.utf8)
        case .hashHeader(let name): hashKey = fnv1a((self.requestHead?.headers.first(name: name) ?? "").utf8)
        case .roundRobin, .leastConnections: hashKey = nil
        }
        guard let index = balancer.pick(hashKey: hashKey, tried: self.tried) else {
            // Nothing healthy left: 503 if nothing was tried, else what the last attempt earned.
            if self.cacheAnswerOnFailure() { return }
            return self.respondLocally(self.lastFailure.map(Self.status(for:)) ?? .serviceUnavailable)
        }
        self.serverIndex = index
        if index < 64 { self.tried |= 1 << UInt64(index) }
        balancer.started(index)
        let server = group.servers[index]
        if self.healthLink.object !== server.health { self.healthLink.set(server.health) }
        self.state = .forwarding
        if case .stream = self.bodyMode { self.upstreamWritable = false }
        if route.hostFromUpstream { head.headers.replaceOrAdd(name: "Host", value: server.origin.hostHeader) }
        let execution = self.execute(head, on: server, of: group, route: route, context: context)
        if !execution.isFinished { self.execution = execution }
    }

    /// The agent's exchange for `head` with `server`.
    private func execute(
        _ head: consuming HTTPRequestHead, on server: UpstreamGroup.Server, of group: UpstreamGroup, route: CompiledRoute, context: ChannelHandlerContext
    ) -> RequestExecution {
        self.agent.execute(
            head,
            to: server.origin,  // borrowed from the group's server, not copied
            tls: group.tls,
            body: self.bodyMode,
            on: context.eventLoop,
            deadline: route.requestTimeout.map { .now() + $0 },
            connectTimeout: route.connectTimeout,
            readTimeout: route.readTimeout,
            maxConnections: server.maxConnections ?? self.agent.configuration.maxConnectionsPerOrigin,
            // A head to pass on as it came is written from its bytes; any other is read from them.
            fieldsAsBytes: self.cacheKey == nil && !self.rewritesResponseFields,
            known: self.upstreamKnown,
            lines: self.upstreamLines,
            addedLines: self.addedFields?.lines,  // the agent drops them for a head without lines
            delegate: self
        )
    }

    private func requestBodyPart(_ buffer: ByteBuffer) {
        guard self.state == .forwarding, let route = self.route else { return }
        self.bodyBytes += buffer.readableBytes
        if self.bodyBytes > route.maxBodySize {
            // A chunked body over the limit: stop forwarding it.
            let execution = self.execution
            self.execution = nil
            self.finishUpstream()
            self.state = .draining  // so the cancellation's `responseFailed` answers nothing
            execution?.cancel()
            if self.responseHeadSent { self.abortConnection() } else { self.respondLocally(.payloadTooLarge, close: true) }
            return
        }
        self.bodyStarted = true
        self.execution?.writeBodyPart(buffer)
    }

    // MARK: The response (ResponseDelegate, on this loop)

    func responseHead(_ head: HTTPResponseHead, execution: RequestExecution) {
        guard !self.closed, let context = self.link.borrowed else { return }
        let version = self.requestVersion
        if self.serverIndex >= 0, let health = self.healthLink.borrowed { health._withUnsafeGuaranteedRef { $0.recordSuccess() } }
        if let metrics = self.loop.metrics, let group = self.route?.upstream, let runtime = self.runtime {
            metrics.recordUpstreamResponse(group: group, generation: runtime.generation, nanoseconds: (NIODeadline.now() - self.startTime).nanoseconds)
        }
        if self.cacheKey == nil, let codec = self.codecLink.borrowed, !self.rewritesResponseFields, let facts = execution.responseFacts,
            facts.coversAllFields, !facts.hasVia, !facts.connectionNamesOthers
        {
            // The common case: the head goes out as it came but for the hop-by-hop fields, which the
            // codec leaves out as it writes (the parser marked them), and Via and Connection, which
            // it adds: no copy of the head, and no pass over its fields but the writer's.
            if version.minor == 0 && !facts.hasContentLength && head.status.mayHaveBody { self.keepAlive = false }
            let via = self.addsVia ? ("Via", HeaderRewriting.via(head.version)) : nil
            let connection = self.connectionField(for: version)
            self.responseStatus = head.status.code
            self.responseHeadSent = true
            codec._withUnsafeGuaranteedRef {
                $0.writeResponseHead(head, fields: execution.responseRawFields, version: version, passingOn: facts, adding: via, connection)
            }
            return
        }
        var head = head
        if let raw = execution.responseRawFields {
            head.headers = raw.headers(reservingCapacity: 2)  // the fields came as bytes: read them now
        } else {
            head.headers.reserveCapacity(head.headers.count + 2)  // one copy, with room for Via and Connection
        }
        HeaderRewriting.removeHopByHop(&head.headers)
        if self.cacheKey != nil, !self.cacheResponseHead(&head) { return }
        if self.addsVia { HeaderRewriting.appendVia(&head.headers, version: head.version) }
        if let rules = self.route?.config.responseHeaders, !rules.isEmpty { HeaderRewriting.apply(rules, to: &head.headers) }
        if head.version != version { head.version = version }  // a copy of the head's storage otherwise
        if version.minor == 0 && !head.headers.contains(name: "content-length") && head.status.mayHaveBody {
            self.keepAlive = false  // an HTTP/1.0 client reads this body until the connection closes
        }
        if let (name, value) = self.connectionField(for: version) { head.headers.replaceOrAdd(name: name, value: value) }
        self.responseStatus = head.status.code
        self.responseHeadSent = true
        context._withUnsafeGuaranteedRef { self.write(.head(head), context: $0) }
    }

    /// The `Connection` field a response to a request of `version` needs, if any; decides whether
    /// the connection stays open after it.
    private func connectionField(for version: HTTPVersion) -> (String, String)? {
        if !self.keepAlive || self.quiescing || self.isLastRequestOnConnection {
            self.keepAlive = false
            return ("Connection", "close")
        }
        return version.minor == 0 ? ("Connection", "keep-alive") : nil
    }

    func responseBodyPart(_ buffer: ByteBuffer, execution: RequestExecution) {
        guard !self.closed, let context = self.link.borrowed, self.cacheAnswer == nil else { return }
        if let writer = self.cacheWriter, !writer.append(buffer) { self.cacheWriter = nil }
        self.bytesSent += buffer.readableBytes
        context._withUnsafeGuaranteedRef { self.write(.body(.byteBuffer(buffer)), context: $0) }
        if !self.clientWritable {
            self.responsePaused = true
            execution.pauseResponseBody()
        }
    }

    func responseReadComplete(execution: RequestExecution) {
        if let context = self.link.borrowed { context._withUnsafeGuaranteedRef { self.flush($0) } }
    }

    func responseEnd(_ trailers: HTTPHeaders?, execution: RequestExecution) {
        guard !self.closed, let context = self.link.borrowed else { return }
        context._withUnsafeGuaranteedRef { self.responseEnd(context: $0) }
    }

    private func responseEnd(context: ChannelHandlerContext) {
        self.execution = nil
        self.finishUpstream()
        if self.cacheKey != nil {
            self.cacheResponseEnd()
            if let answer = self.cacheAnswer, let cache = self.loop.cache {
                self.cacheAnswer = nil
                self.serveStored(answer, cache: cache, now: ProxyCache.now())
                return
            }
        }
        if !self.requestEnded {
            // The upstream answered before the request body was done: we will not read the rest.
            self.keepAlive = false
        }
        self.writeEnd(context: context)
        self.finishExchange()
    }

    func responseFailed(_ error: TernClientError, execution: RequestExecution) {
        guard self.state == .forwarding else { return }  // we abandoned this exchange ourselves
        self.execution = nil
        self.finishUpstream(failure: error)
        if self.cacheKey != nil { self.cacheAbandon() }
        guard !self.closed else { return }
        if self.responseHeadSent {
            self.abortConnection()
            return
        }
        self.lastFailure = error
        if self.mayFailOver(after: error) {
            self.startUpstream()
            return
        }
        if self.cacheAnswerOnFailure() { return }
        self.respondLocally(Self.status(for: error))
    }

    func requestBodyWritabilityChanged(_ writable: Bool, execution: RequestExecution) {
        self.upstreamWritable = writable
        if writable, self.readPending, let context = self.context {
            self.readPending = false
            self.passRead(context)
        }
    }

    /// The next server is tried when the request never reached this one, or when an idempotent
    /// request without a body already sent failed before any response byte reached the client.
    private func mayFailOver(after error: TernClientError) -> Bool {
        guard !self.bodyStarted, error.code != .deadlineExceeded, error.code != .shutdown else { return false }
        switch error.phase {
        case .resolve, .connect, .tls:
            return true
        case .write, .read:
            guard let method = self.requestHead?.method else { return false }
            return [.GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE].contains(method)
                || self.requestHead?.headers.contains(name: "idempotency-key") == true
        case .pool, .request, .redirect:
            return false
        }
    }

    /// Where the agent's error meets HTTP: 504 for the timeouts, 503 when the pool is full or
    /// shutting down, 502 for everything the upstream did wrong.
    static func status(for error: TernClientError) -> HTTPResponseStatus {
        switch error.code {
        case .connectTimeout, .readTimeout, .deadlineExceeded, .tlsHandshakeTimeout: return .gatewayTimeout
        case .poolWaitTimeout, .tooManyWaiters, .shutdown: return .serviceUnavailable
        default: return .badGateway
        }
    }

    private func finishUpstream(failure: TernClientError? = nil) {
        guard self.serverIndex >= 0, let balancer = self.balancerLink.borrowed else { return }
        balancer._withUnsafeGuaranteedRef { $0.finished(self.serverIndex) }
        // As in nginx, the only server of a group is never taken out: there is nowhere else to go.
        if let failure, failure.code != .cancelled, let group = self.route?.upstream, group.servers.count > 1 {
            group.servers[self.serverIndex].health.recordFailure(now: .now())
        }
        self.serverIndex = -1
    }

    func finishExchange() {
        self.state = .idle
        self.requestsServed += 1
        self.loop.metrics?.recordRequest(route: self.route, generation: self.runtime?.generation ?? 0, status: self.responseStatus)
        if let log = self.loop.accessLog, let head = self.clientHead {
            log.log(
                AccessLogWriter.Entry(
                    client: self.clientAddress, head: head, status: self.responseStatus, bytesSent: self.bytesSent,
                    durationNanoseconds: (NIODeadline.now() - self.startTime).nanoseconds, upstream: nil,
                    fields: self.requestFieldsPending ? self.requestLines : nil
                ),
                date: self.loop.dateCache.logTimes
            )
        }
        // The client's lines hold its receive buffer: let the next read reuse it. Fields nobody
        // read by now are not read (the exchange is over; the cache read what it needed during it,
        // the access log from the lines; a background revalidation took the head with its values).
        self.requestLines = nil
        self.upstreamLines = nil
        self.requestFieldsPending = false
        if self.cacheKey == nil {
            // The heads go too: the parser then fills in the one it made for this request again for
            // the next (`HTTP1Parser.spareRequestHead`), rather than allocate another. A cache
            // exchange keeps them (reads of a stored body may come after).
            self.requestHead = nil
            self.upstreamHead = nil
        }
        self.runQueued()
        self.readIfPending()
    }

    /// Handles the pipelined requests that came in during the exchange just finished.
    private func runQueued() {
        guard !self.runningQueued, let context = self.link.borrowed else { return }
        if !self.keepAlive {
            self.queued.removeAll()  // the connection closes after this response
            return
        }
        self.runningQueued = true
        defer { self.runningQueued = false }
        while let next = self.queued.first {
            if next.isHead && self.state != .idle { break }
            self.queued.removeFirst()
            context._withUnsafeGuaranteedRef { self.handle(next, context: $0) }
        }
    }

    private func resetExchange() {
        self.exchangeID &+= 1
        if self.cacheKey != nil {
            self.cacheAbandon()
            self.cacheKey = nil
            self.cacheMode = .off
            self.cacheStatus = .init()
            self.cacheAnswer = nil
            self.serving = nil
            self.requestTraits = nil
        }
        // `route` and `balancer` stay: the next exchange sets them (`beginExchange`,
        // `forwardToUpstream`), and they are nearly always the same objects, so most requests
        // store neither (each store a retain and a release). Nothing reads them outside an exchange
        // that set them: the balancer only with a `serverIndex`, which is reset here.
        self.serverIndex = -1
        self.tried = 0
        // Most of these are nil already (the last exchange's end cleared them): set only when not,
        // as each store releases the value it replaces, nil or not (a call apiece).
        if self.lastFailure != nil { self.lastFailure = nil }
        if self.upstreamHead != nil { self.upstreamHead = nil }
        self.upstreamKnown = nil
        if self.upstreamLines != nil { self.upstreamLines = nil }
        if self.requestLines != nil { self.requestLines = nil }
        if self.execution != nil { self.execution = nil }
        self.bodyMode = .none
        self.bodyBytes = 0
        self.bodyStarted = false
        self.requestEnded = false
        self.responseHeadSent = false
        self.responseStatus = 0
        self.bytesSent = 0
        self.upstreamWritable = true
        self.responsePaused = false
    }

    // MARK: Channel events

    func read(context: ChannelHandlerContext) {
        if !self.queued.isEmpty || (self.state == .forwarding && !self.upstreamWritable) {
            self.readPending = true
        } else {
            self.passRead(context)
        }
    }

    /// Passes a read on, unless the guard in front is waiting for a shared rate-limit answer
    /// (then the guard reads once it has the answer).
    private func passRead(_ context: ChannelHandlerContext) {
        if let requestGuard = self.guardLink.borrowed, requestGuard._withUnsafeGuaranteedRef({ $0.holdsReads }) {
            requestGuard._withUnsafeGuaranteedRef { $0.holdRead() }
        } else if self.codecLink.borrowed?._withUnsafeGuaranteedRef({ $0.passRead() }) != true {
            context.read()
        }
    }

    private func readIfPending() {
        if self.readPending, let context = self.link.borrowed {
            self.readPending = false
            context._withUnsafeGuaranteedRef { self.passRead($0) }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.clientWritable = context.channel.isWritable
        if context.channel.isWritable, self.responsePaused {
            self.responsePaused = false
            self.execution?.resumeResponseBody()
        }
        if context.channel.isWritable, self.serving != nil { self.resumeServing() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            self.quiescing = true
            if self.state == .idle { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        if let execution = self.execution {
            self.execution = nil
            execution.cancel(with: TernClientError(code: .cancelled, phase: .request, detail: "client went away"))
        }
        if self.cacheKey != nil { self.cacheAbandon() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Protocol errors were answered by RequestGuard; IO errors end the connection.
        context.close(promise: nil)
    }

    func abortConnection() {
        self.closed = true
        self.context?.close(promise: nil)
    }

    /// Writes a response part: straight to the codec in front when there is one.
    func write(_ part: HTTPServerResponsePart, context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        if let codec = self.codecLink.borrowed {
            codec._withUnsafeGuaranteedRef { $0.writeResponse(part, promise: promise) }
        } else {
            context.write(self.wrapOutboundOut(part), promise: promise)
        }
    }

    /// Flushes: straight to the codec in front when there is one (no hop through the pipeline).
    func flush(_ context: ChannelHandlerContext) {
        if let codec = self.codecLink.borrowed { codec._withUnsafeGuaranteedRef { $0.flushResponse() } } else { context.flush() }
    }

    /// Ends the response; when the connection must not be reused, closes it once the end is written.
    func writeEnd(context: ChannelHandlerContext) {
        let limit = self.runtime?.configuration.limits.maxRequestsPerConnection ?? .max
        // The guard hears of the end before the flush, so a refusal it holds goes out right behind.
        guard !self.keepAlive || self.quiescing || self.requestsServed + 1 >= limit else {
            self.write(.end(nil), context: context)
            self.guardLink.borrowed?._withUnsafeGuaranteedRef { $0.responseEnded() }
            self.flush(context)
            return
        }
        self.keepAlive = false
        let written = context.eventLoop.makePromise(of: Void.self)
        self.write(.end(nil), context: context, promise: written)
        self.guardLink.borrowed?._withUnsafeGuaranteedRef { $0.responseEnded() }
        self.flush(context)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

@available(*, unavailable)
extension ProxyHandler: Sendable {}

extension HTTPResponseStatus {
    var mayHaveBody: Bool {
        !(self.code < 200 || self.code == 204 || self.code == 304)
    }
}

extension HTTPServerRequestPart {
    var isHead: Bool {
        if case .head = self { return true }
        return false
    }

    /// This part, but a head's fields read from `lines` (its fields as bytes, its `HTTPHeaders`
    /// empty) into its `HTTPHeaders`; any other part as it is.
    func withFields(from lines: HTTP1RawFields?) -> HTTPServerRequestPart {
        guard case .head(var head) = self, let lines else { return self }
        head.headers = lines.headers()
        return .head(head)
    }
}
