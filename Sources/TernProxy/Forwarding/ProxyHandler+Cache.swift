import NIOCore
import NIOHTTP1
import TernClient

/// The cache on the request path (RFC 9111, DESIGN.md "one request through the proxy"): look up,
/// answer hits from the store, coalesce concurrent misses behind one lease, revalidate stale
/// entries, tee storable responses into a writer as they stream to the client, and invalidate
/// after unsafe methods. A store that fails is a miss: the request goes on to the upstream.
extension ProxyHandler {
    enum CacheMode {
        case off
        /// A miss: store the response if it is storable. `lease`: we hold the key's fill lease.
        case fill
        /// A stale entry is being revalidated with its validators.
        case revalidate(CachedResponse)
        /// An unsafe method: a successful response invalidates the stored URL.
        case invalidate

        /// The upstream request keeps the client's conditions and ranges (the cache does not
        /// want the whole response for itself).
        var leavesConditionsAlone: Bool {
            switch self {
            case .off, .invalidate: true
            case .fill, .revalidate: false
            }
        }
    }

    /// Whether the cache took this request over (answered it, or is looking it up). `head`'s
    /// fields may still be in `requestLines` only: the cache reads them through `cacheFields`.
    func cacheRequest(_ head: HTTPRequestHead, cache: ProxyCache, context: ChannelHandlerContext) -> Bool {
        let key = CacheKey(scheme: self.scheme, host: self.requestHost ?? "", target: head.uri)
        switch head.method {
        case .GET, .HEAD:
            break
        case .PURGE:
            self.purge(key, cache: cache)
            return true
        case .OPTIONS, .TRACE:
            return false
        default:
            self.cacheKey = key
            self.cacheMode = .invalidate
            return false
        }
        self.cacheKey = key
        self.cacheRequestTime = ProxyCache.now()
        let traits = self.cacheFields.traits
        self.requestTraits = traits
        guard case .none = self.bodyMode, !traits.hasAuthorization else {
            // A body on a GET, or credentials: forwarded as is; the response is still stored if
            // RFC 9111 §3.5 allows it.
            self.cacheStatus.forward = .request
            self.cacheMode = head.method.isGET ? .fill : .off
            return false
        }
        if let memory = cache.memory {
            let variants = memory.lookupNow(key, now: .now())
            if !variants.isEmpty {
                self.consider(variants, cache: cache)
                return true
            }
            if memory === cache.store {
                self.cacheMiss(cache: cache, forward: .uriMiss)
                return true
            }
        }
        self.state = .caching
        let id = self.exchangeID
        cache.store.variants(of: key, on: context.eventLoop).assumeIsolated().whenComplete { result in
            guard self.exchangeID == id, !self.closed else { return }
            switch result {
            case .success(let variants) where !variants.isEmpty:
                self.consider(variants, cache: cache)
            case .success:
                self.cacheMiss(cache: cache, forward: .uriMiss)
            case .failure(let error):
                cache.lookupFailed(error, key: key)
                self.cacheStatus.detail = "store-unavailable"
                self.cacheMode = .fill
                self.forwardToUpstream()
            }
        }
        return true
    }

    /// The request's `only-if-cached` (RFC 9111 §5.2.1.7): only a request with directives is read.
    private var onlyIfCached: Bool {
        self.requestTraits?.hasCacheDirectives != false && CachePolicy.RequestDirectives(self.cacheFields).onlyIfCached
    }

    /// Chooses the stored variant for this request and decides how to use it: answer from the
    /// store, revalidate, or treat it as a miss.
    private func consider(_ variants: [CachedResponse], cache: ProxyCache) {
        guard let request = self.clientHead else { return }
        let fields = self.cacheFields
        var chosen: CachedResponse?
        for variant in variants where CachePolicy.matches(variant.varyValues, request: fields) {
            if chosen == nil || variant.responseTime > chosen!.responseTime { chosen = variant }
        }
        guard let stored = chosen else {
            self.cacheMiss(cache: cache, forward: .varyMiss)
            return
        }
        if stored.isPassMarker {
            // The last response was not storable: straight to the upstream, no coalescing wait.
            self.cacheStatus.forward = .uriMiss
            self.cacheMode = request.method.isGET ? .fill : .off
            self.forwardToUpstream()
            return
        }
        let now = ProxyCache.now()
        switch CachePolicy.use(stored, request: fields, traits: self.requestTraits, now: now) {
        case .fresh, .staleAllowed:
            cache.hits.increment()
            self.cacheStatus.hit = true
            self.serveStored(stored, cache: cache, now: now)
        case .staleWhileRevalidate:
            cache.hits.increment()
            self.cacheStatus.hit = true
            self.cacheStatus.detail = "stale-while-revalidate"
            self.serveStored(stored, cache: cache, now: now)
            self.revalidateInBackground(stored, cache: cache)
        case .revalidate:
            if self.onlyIfCached {
                self.respondLocally(.gatewayTimeout)
                return
            }
            self.cacheStatus.forward = .stale
            self.cacheMode = .revalidate(stored)
            self.forwardToUpstream()
        }
    }

    /// Nothing usable stored: only-if-cached gets 504; otherwise the first miss takes the fill
    /// lease and goes to the upstream, and concurrent misses wait for it to store the response.
    private func cacheMiss(cache: ProxyCache, forward: CachePolicy.CacheStatus.Forward) {
        guard let request = self.clientHead, let key = self.cacheKey, let context = self.context else { return }
        cache.misses.increment()
        self.cacheStatus.forward = forward
        if self.onlyIfCached {
            self.respondLocally(.gatewayTimeout)
            return
        }
        guard request.method.isGET else {
            // A HEAD miss is forwarded as it is; its answer has no body to store.
            self.cacheMode = .off
            self.forwardToUpstream()
            return
        }
        self.cacheMode = .fill
        self.state = .caching
        let id = self.exchangeID
        let deadline = NIODeadline.now() + cache.lockTimeout
        cache.store.acquireLease(key, holder: cache.holder, ttl: cache.lockTimeout, on: context.eventLoop)
            .assumeIsolated().whenComplete { result in
                guard self.exchangeID == id, !self.closed else {
                    if case .success(true) = result { cache.store.releaseLease(key, holder: cache.holder, on: context.eventLoop) }
                    return
                }
                switch result {
                case .success(true):
                    self.cacheLease = true
                    self.forwardToUpstream()
                case .success(false):
                    self.waitForFill(cache: cache, deadline: deadline, delay: .milliseconds(2))
                case .failure(let error):
                    cache.lookupFailed(error, key: key)
                    self.forwardToUpstream()
                }
            }
    }

    /// Request coalescing: another request (here or in another proxy sharing Redis) is filling
    /// this key. Look again with a growing delay until it is stored or the lock timeout passes.
    private func waitForFill(cache: ProxyCache, deadline: NIODeadline, delay: TimeAmount) {
        guard let context = self.context, let key = self.cacheKey else { return }
        guard NIODeadline.now() < deadline else {
            self.cacheStatus.detail = "lock-timeout"
            self.forwardToUpstream()
            return
        }
        let id = self.exchangeID
        context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            guard self.exchangeID == id, !self.closed else { return }
            cache.store.variants(of: key, on: context.eventLoop).assumeIsolated().whenComplete { result in
                guard self.exchangeID == id, !self.closed else { return }
                let variants = (try? result.get()) ?? []
                let fields = self.cacheFields
                if let stored = variants.first(where: { CachePolicy.matches($0.varyValues, request: fields) }) {
                    if stored.isPassMarker {
                        self.forwardToUpstream()
                    } else {
                        self.cacheStatus.collapsed = true
                        self.consider([stored], cache: cache)
                    }
                    return
                }
                if case .failure = result {
                    self.forwardToUpstream()
                    return
                }
                self.waitForFill(cache: cache, deadline: deadline, delay: min(delay * 2, .milliseconds(50)))
            }
        }
    }

    // MARK: Answering from the store

    /// Sends a stored response: 304/412 for conditional requests, 206/416 for ranges, the head
    /// alone for HEAD, else the whole body from the memory tier or chunk by chunk from the store.
    func serveStored(_ stored: CachedResponse, cache: ProxyCache, now: Int64) {
        guard let context = self.context, let request = self.clientHead else { return }
        let age = stored.freshness.age(now: now)
        if self.cacheStatus.hit { self.cacheStatus.ttl = stored.freshness.lifetime - age }

        var status = HTTPResponseStatus(statusCode: Int(stored.status))
        var headers = stored.headers
        var range: (start: Int, end: Int)?
        var sendBody = !request.method.isHEAD && status.mayHaveBody
        let traits = self.requestTraits ?? self.cacheFields.traits
        let conditional: CachePolicy.Conditional =
            traits.hasConditional
            ? CachePolicy.evaluateConditional(method: request.method, request: self.cacheFields, stored: stored.headers) : .proceed
        switch conditional {
        case .notModified:
            status = .notModified
            headers = Self.notModifiedHeaders(stored.headers)
            sendBody = false
        case .preconditionFailed:
            self.respondLocally(.preconditionFailed)
            return
        case .proceed:
            if traits.hasRange, stored.status == 200, request.method.isGET {
                switch CachePolicy.range(method: request.method, request: self.cacheFields, length: stored.bodyLength, stored: stored.headers) {
                case .full:
                    break
                case .partial(let start, let end):
                    status = .partialContent
                    range = (start, end)
                    headers.replaceOrAdd(name: "Content-Range", value: "bytes \(start)-\(end)/\(stored.bodyLength)")
                    headers.replaceOrAdd(name: "Content-Length", value: String(end - start + 1))
                case .unsatisfiable:
                    status = .rangeNotSatisfiable
                    headers.replaceOrAdd(name: "Content-Range", value: "bytes */\(stored.bodyLength)")
                    headers.replaceOrAdd(name: "Content-Length", value: "0")
                    sendBody = false
                }
            }
        }
        // The stored fields rarely hold these: then they are only appended (no search).
        let has = stored.has
        let forwarding = self.runtime?.configuration.forwarding
        let rules = self.route?.config.responseHeaders ?? []
        // The whole body at hand: from the memory tier, or the one chunk the lookup brought.
        let wantsBody = sendBody && stored.bodyLength > 0
        let whole: [ByteBuffer]? =
            if !wantsBody { nil }
            else if let memory = cache.memory, let chunks = memory.bodyNow(self.cacheKey!, variant: stored) { chunks }
            else if stored.chunkCount == 1, let first = stored.firstChunk, first.readableBytes == stored.bodyLength { [first] }
            else { nil }
        // The common hit: the stored fields go out as they were kept written out, and `headers`
        // holds only what the hit adds after them (no copy of the stored fields). Not when the
        // body comes chunk by chunk: that head waits in `serving` with all its fields.
        var lines: HTTP1RawFields?
        if let kept = stored.headLines, self.codec != nil, status.code == stored.status, range == nil, !has.age, !has.cacheStatus,
            !(has.via && forwarding?.via == true), rules.isEmpty, !wantsBody || whole != nil
        {
            lines = kept
            headers = HTTPHeaders()
            headers.reserveCapacity(5)
        }
        let ageValue = String(age)
        if has.age { headers.replaceOrAdd(name: "Age", value: ageValue) } else { headers.add(name: "Age", value: ageValue) }
        let cacheStatus = self.cacheStatus.render(cacheName: ProxyCache.name)
        if has.cacheStatus { headers.replaceOrAdd(name: "Cache-Status", value: cacheStatus) } else { headers.add(name: "Cache-Status", value: cacheStatus) }
        let addsLength =
            !has.contentLength && status != .partialContent && status != .rangeNotSatisfiable && (sendBody || request.method.isHEAD)
            && status.mayHaveBody
        if addsLength { headers.add(name: "Content-Length", value: String(stored.bodyLength)) }
        if forwarding?.via == true {
            if has.via { HeaderRewriting.appendVia(&headers, version: .http1_1) } else { headers.add(name: "Via", value: "1.1 tern") }
        }
        if !rules.isEmpty { HeaderRewriting.apply(rules, to: &headers) }
        if !self.keepAlive || self.quiescing {
            headers.replaceOrAdd(name: "Connection", value: "close")
            self.keepAlive = false
        } else if request.version.minor == 0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }

        let hasContentLength = has.contentLength || addsLength
        if wantsBody {
            if let chunks = whole {
                self.writeStoredHead(status, headers, after: lines, hasContentLength: hasContentLength, version: request.version, context: context)
                Self.forEachSlice(of: chunks, in: range) { slice in
                    self.bytesSent += slice.readableBytes
                    self.write(.body(.byteBuffer(slice)), context: context)
                }
                self.endStoredResponse(context: context)
                return
            }
            // Chunk by chunk from the store; the first one before the head, so an entry evicted
            // in the meantime is still a miss rather than a truncated answer.
            self.state = .caching
            self.serving = ServingState(stored: stored, next: 0, range: range, offset: 0, status: status, headers: headers)
            self.fetchStoredChunk(cache: cache)
            return
        }
        self.writeStoredHead(status, headers, after: lines, hasContentLength: hasContentLength, version: request.version, context: context)
        self.endStoredResponse(context: context)
    }

    struct ServingState {
        var stored: CachedResponse
        var next: Int
        var range: (start: Int, end: Int)?
        /// Body bytes before chunk `next`.
        var offset: Int
        var status: HTTPResponseStatus
        /// Still to be written (nil once the head is out).
        var headers: HTTPHeaders?
        var paused = false
    }

    private func fetchStoredChunk(cache: ProxyCache) {
        guard let context = self.context, let key = self.cacheKey, let serving = self.serving else { return }
        let id = self.exchangeID
        cache.store.chunk(serving.next, of: key, variant: serving.stored, on: context.eventLoop)
            .assumeIsolated().whenComplete { result in
                guard self.exchangeID == id, !self.closed, var serving = self.serving, let request = self.clientHead else { return }
                guard case .success(let chunk?) = result else {
                    if case .failure(let error) = result { cache.lookupFailed(error, key: key) }
                    self.serving = nil
                    if serving.headers != nil {
                        // Nothing sent yet: the entry went away, so this is a miss after all.
                        self.cacheStatus = .init()
                        self.cacheStatus.forward = .uriMiss
                        self.cacheMode = request.method.isGET ? .fill : .off
                        self.forwardToUpstream()
                    } else {
                        self.abortConnection()
                    }
                    return
                }
                if let headers = serving.headers {
                    self.writeStoredHead(serving.status, headers, version: request.version, context: context)
                    serving.headers = nil
                }
                let start = serving.offset
                serving.offset += chunk.readableBytes
                serving.next += 1
                Self.forEachSlice(of: [chunk], in: serving.range.map { ($0.start - start, $0.end - start) }) { slice in
                    self.bytesSent += slice.readableBytes
                    self.write(.body(.byteBuffer(slice)), context: context)
                }
                let done = serving.next >= serving.stored.chunkCount || serving.range.map { serving.offset > $0.end } == true
                if done {
                    self.serving = nil
                    self.endStoredResponse(context: context)
                    return
                }
                self.flush(context)
                if context.channel.isWritable {
                    self.serving = serving
                    self.fetchStoredChunk(cache: cache)
                } else {
                    serving.paused = true
                    self.serving = serving
                }
            }
    }

    /// The client's connection is writable again: go on with a paused stored body.
    func resumeServing() {
        guard var serving = self.serving, serving.paused, let cache = self.loop.cache else { return }
        serving.paused = false
        self.serving = serving
        self.fetchStoredChunk(cache: cache)
    }

    /// `range` relative to the start of `chunks`, inclusive; nil: everything.
    static func forEachSlice(of chunks: [ByteBuffer], in range: (start: Int, end: Int)?, _ body: (ByteBuffer) -> Void) {
        guard let range else {
            for chunk in chunks { body(chunk) }
            return
        }
        var offset = 0
        for chunk in chunks {
            let length = chunk.readableBytes
            defer { offset += length }
            let from = max(range.start - offset, 0)
            let to = min(range.end - offset, length - 1)
            guard from <= to else { continue }
            if from == 0 && to == length - 1 { body(chunk) } else { body(chunk.getSlice(at: chunk.readerIndex + from, length: to - from + 1)!) }
        }
    }

    /// `after`: the stored fields as kept written out, which go before `headers` (then only what
    /// the hit adds; `hasContentLength` says whether either has that field).
    private func writeStoredHead(
        _ status: HTTPResponseStatus, _ headers: HTTPHeaders, after lines: HTTP1RawFields? = nil, hasContentLength: Bool = false,
        version: HTTPVersion, context: ChannelHandlerContext
    ) {
        self.responseStatus = status.code
        self.responseHeadSent = true
        let head = HTTPResponseHead(version: version, status: status, headers: headers)
        if let lines, let codec = self.codec {
            codec.writeStoredResponseHead(head, after: lines, hasContentLength: hasContentLength)
        } else {
            self.write(.head(head), context: context)
        }
    }

    private func endStoredResponse(context: ChannelHandlerContext) {
        self.writeEnd(context: context)
        if self.requestEnded || !self.keepAlive {
            self.finishExchange()
        } else {
            self.state = .draining
        }
    }

    /// RFC 9110 §15.4.5: what a 304 carries.
    static func notModifiedHeaders(_ stored: HTTPHeaders) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for name in ["Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary", "Last-Modified"] {
            for value in stored[canonicalForm: name] { headers.add(name: name, value: String(value)) }
        }
        return headers
    }

    // MARK: The upstream's answer

    /// Called with the upstream's response head (hop-by-hop fields already removed). Returns false
    /// when the head must not go to the client because the cache answers instead (a 304 that
    /// revalidated the stored response, or stale-if-error).
    func cacheResponseHead(_ head: inout HTTPResponseHead) -> Bool {
        guard let cache = self.loop.cache, let key = self.cacheKey, let request = self.clientHead, let context = self.context
        else { return true }
        let now = ProxyCache.now()
        switch self.cacheMode {
        case .off:
            break
        case .invalidate:
            if CachePolicy.invalidates(method: request.method, status: head.status.code) {
                self.invalidate(key, responseHeaders: head.headers, cache: cache, on: context.eventLoop)
            }
            return true
        case .revalidate(let stored):
            if head.status == .notModified {
                var updated = stored
                updated.headers = CachePolicy.updatedHeaders(stored: stored.headers, notModified: head.headers)
                updated.requestTime = self.cacheRequestTime
                updated.responseTime = now
                cache.revalidations.increment()
                _ = cache.store.update(key, response: updated, ttl: cache.ttl(for: updated), on: context.eventLoop)
                self.cacheStatus.forwardStatus = 304
                self.cacheAnswer = updated
                return false
            }
            if head.status.code >= 500, CachePolicy.mayServeStaleOnError(stored, request: self.cacheFields, now: now) {
                self.cacheStatus.forwardStatus = head.status.code
                self.cacheStatus.detail = "stale-if-error"
                self.cacheAnswer = stored
                return false
            }
            self.startStoring(&head, cache: cache, key: key, method: request.method, now: now)
        case .fill:
            self.startStoring(&head, cache: cache, key: key, method: request.method, now: now)
        }
        self.cacheStatus.forwardStatus = head.status.code
        if !head.headers.contains(name: "age") { head.headers.add(name: "Age", value: "0") }
        head.headers.replaceOrAdd(name: "Cache-Status", value: self.cacheStatus.render(cacheName: ProxyCache.name))
        return true
    }

    private func startStoring(_ head: inout HTTPResponseHead, cache: ProxyCache, key: CacheKey, method: HTTPMethod, now: Int64) {
        guard let context = self.context else { return }
        let request = self.cacheFields
        guard method.isGET,
            CachePolicy.isStorable(method: .GET, requestHeaders: request, status: head.status.code, responseHeaders: head.headers),
            let fields = CachePolicy.varyFields(head.headers),
            Self.declaredLength(head.headers).map({ $0 <= cache.settings.maxObjectSize }) ?? true
        else {
            if self.cacheLease {
                // Let the requests waiting on us go straight to the upstream for a while.
                let marker = CachedResponse(
                    status: head.status.code, headers: HTTPHeaders(), requestTime: self.cacheRequestTime, responseTime: now,
                    isPassMarker: true)
                cache.store.writer(for: key, response: marker, ttl: ProxyCache.passMarkerTTL, on: context.eventLoop).finish()
                self.releaseCacheLease()
            }
            return
        }
        let values = CachePolicy.varyValues(fields: fields, request: request)
        let response = CachedResponse(
            variantID: CachePolicy.secondaryKey(values), status: head.status.code, headers: head.headers, varyValues: values,
            requestTime: self.cacheRequestTime, responseTime: now)
        self.cacheWriter = cache.store.writer(for: key, response: response, ttl: cache.ttl(for: response), on: context.eventLoop)
        self.cacheStatus.stored = true
        cache.stored.increment()
    }

    static func declaredLength(_ headers: HTTPHeaders) -> Int? {
        headers.first(name: "content-length").flatMap { Int($0) }
    }

    /// The response ended: what was stored becomes visible; a pending cache answer is sent.
    func cacheResponseEnd() {
        if let writer = self.cacheWriter {
            self.cacheWriter = nil
            writer.finish()
        }
        self.releaseCacheLease()
    }

    /// The exchange failed or was abandoned: nothing partial stays.
    func cacheAbandon() {
        if let writer = self.cacheWriter {
            self.cacheWriter = nil
            writer.abandon()
        }
        self.releaseCacheLease()
    }

    func releaseCacheLease() {
        guard self.cacheLease, let key = self.cacheKey, let cache = self.loop.cache else { return }
        self.cacheLease = false
        cache.store.releaseLease(key, holder: cache.holder, on: self.loop.eventLoop)
    }

    /// The upstream failed before answering: a stale entry may still be served (stale-if-error).
    func cacheAnswerOnFailure() -> Bool {
        guard case .revalidate(let stored) = self.cacheMode, let cache = self.loop.cache,
            CachePolicy.mayServeStaleOnError(stored, request: self.cacheFields, now: ProxyCache.now())
        else { return false }
        self.cacheStatus.detail = "stale-if-error"
        self.serveStored(stored, cache: cache, now: ProxyCache.now())
        return true
    }

    // MARK: Purge and invalidation

    private func purge(_ key: CacheKey, cache: ProxyCache) {
        guard let context = self.context, let runtime = self.runtime else { return }
        guard runtime.configuration.purgeAllow.allows(context.channel.remoteAddress) else {
            self.respondLocally(.forbidden)
            return
        }
        self.state = .caching
        let id = self.exchangeID
        cache.store.purge(key, on: context.eventLoop).assumeIsolated().whenComplete { result in
            guard self.exchangeID == id, !self.closed else { return }
            switch result {
            case .success(true):
                self.respondLocally(.ok, body: ByteBuffer(string: "purged \(key.uri)\n"), contentType: "text/plain; charset=utf-8")
            case .success(false):
                self.respondLocally(.notFound, body: ByteBuffer(string: "not cached: \(key.uri)\n"), contentType: "text/plain; charset=utf-8")
            case .failure(let error):
                cache.lookupFailed(error, key: key)
                self.respondLocally(.serviceUnavailable)
            }
        }
    }

    /// RFC 9111 §4.4: the target, and same-origin Location / Content-Location.
    private func invalidate(_ key: CacheKey, responseHeaders: HTTPHeaders, cache: ProxyCache, on loop: any EventLoop) {
        _ = cache.store.purge(key, on: loop)
        guard let request = self.clientHead else { return }
        let host = self.requestHost ?? ""
        for target in CachePolicy.invalidationTargets(responseHeaders: responseHeaders, scheme: self.scheme, host: host, requestPath: request.uri) {
            _ = cache.store.purge(CacheKey(scheme: self.scheme, host: host, target: target), on: loop)
        }
    }

    // MARK: stale-while-revalidate

    private func revalidateInBackground(_ stored: CachedResponse, cache: ProxyCache) {
        // It outlives the exchange: it takes the head with its fields read into values.
        guard let key = self.cacheKey, let route = self.route, let group = route.upstream, let request = self.requestHead,
            let runtime = self.runtime
        else { return }
        BackgroundRevalidation.start(
            stored: stored, key: key, request: request, route: route, group: group, cache: cache, agent: self.agent,
            balancer: self.loop.balancer(for: group, generation: runtime.generation), loop: self.loop.eventLoop)
    }
}
