import NIOCore
import NIOHTTP1
import TernClient

/// RFC 5861 stale-while-revalidate: the client already has the stale response; this revalidates
/// it behind its back, on the same loop, with the stored validators. A 304 refreshes the stored
/// headers, a storable 200 replaces the entry, anything else leaves it. One per key at a time
/// (the fill lease), so a burst of hits on a stale entry makes one upstream request.
final class BackgroundRevalidation: ResponseDelegate {
    private let stored: CachedResponse
    private let key: CacheKey
    private let request: HTTPRequestHead
    private let cache: ProxyCache
    private let balancer: LoopBalancer
    private let serverIndex: Int
    private let loop: any EventLoop
    private let requestTime = ProxyCache.now()
    private var writer: (any CacheWriter)?

    private init(
        stored: CachedResponse, key: CacheKey, request: HTTPRequestHead, cache: ProxyCache, balancer: LoopBalancer,
        serverIndex: Int, loop: any EventLoop
    ) {
        self.stored = stored
        self.key = key
        self.request = request
        self.cache = cache
        self.balancer = balancer
        self.serverIndex = serverIndex
        self.loop = loop
    }

    static func start(
        stored: CachedResponse, key: CacheKey, request: HTTPRequestHead, route: CompiledRoute, group: UpstreamGroup,
        cache: ProxyCache, agent: Agent, balancer: LoopBalancer, loop: any EventLoop
    ) {
        cache.store.acquireLease(key, holder: cache.holder, ttl: cache.lockTimeout, on: loop).assumeIsolated().whenSuccess { held in
            guard held, let index = balancer.pick(hashKey: nil, tried: 0) else {
                if held { cache.store.releaseLease(key, holder: cache.holder, on: loop) }
                return
            }
            balancer.started(index)
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: route.upstreamURI(request.uri), headers: request.headers)
            HeaderRewriting.removeHopByHop(&head.headers)
            for name in ["if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "range", "if-range"] {
                head.headers.remove(name: name)
            }
            for (name, value) in CachePolicy.validators(for: stored.headers) { head.headers.add(name: name, value: value) }
            HeaderRewriting.apply(route.config.requestHeaders, to: &head.headers)
            let server = group.servers[index]
            if route.config.hostHeader == .upstream { head.headers.replaceOrAdd(name: "Host", value: server.origin.hostHeader) }
            if case .set(let value) = route.config.hostHeader { head.headers.replaceOrAdd(name: "Host", value: value) }
            let revalidation = BackgroundRevalidation(
                stored: stored, key: key, request: request, cache: cache, balancer: balancer, serverIndex: index, loop: loop)
            _ = agent.execute(
                head, to: server.origin, tls: group.tls, body: .none, on: loop,
                deadline: route.requestTimeout.map { .now() + $0 }, connectTimeout: route.connectTimeout,
                readTimeout: route.readTimeout, delegate: revalidation)
        }
    }

    func responseHead(_ head: HTTPResponseHead, execution: RequestExecution) {
        let now = ProxyCache.now()
        var headers = head.headers
        HeaderRewriting.removeHopByHop(&headers)
        if head.status == .notModified {
            var updated = self.stored
            updated.headers = CachePolicy.updatedHeaders(stored: self.stored.headers, notModified: headers)
            updated.requestTime = self.requestTime
            updated.responseTime = now
            self.cache.revalidations.increment()
            _ = self.cache.store.update(self.key, response: updated, ttl: self.cache.ttl(for: updated), on: self.loop)
            return
        }
        guard CachePolicy.isStorable(method: .GET, requestHeaders: self.request.headers, status: head.status.code, responseHeaders: headers),
            let fields = CachePolicy.varyFields(headers)
        else { return }
        let values = CachePolicy.varyValues(fields: fields, request: self.request.headers)
        let response = CachedResponse(
            variantID: CachePolicy.secondaryKey(values), status: head.status.code, headers: headers, varyValues: values,
            requestTime: self.requestTime, responseTime: now)
        self.writer = self.cache.store.writer(for: self.key, response: response, ttl: self.cache.ttl(for: response), on: self.loop)
    }

    func responseBodyPart(_ buffer: ByteBuffer, execution: RequestExecution) {
        if let writer = self.writer, !writer.append(buffer) { self.writer = nil }
    }

    func responseReadComplete(execution: RequestExecution) {}

    func responseEnd(_ trailers: HTTPHeaders?, execution: RequestExecution) {
        self.writer?.finish()
        self.writer = nil
        self.done()
    }

    func responseFailed(_ error: TernClientError, execution: RequestExecution) {
        self.writer?.abandon()
        self.writer = nil
        self.done()
    }

    func requestBodyWritabilityChanged(_ writable: Bool, execution: RequestExecution) {}

    private func done() {
        self.balancer.finished(self.serverIndex)
        self.cache.store.releaseLease(self.key, holder: self.cache.holder, on: self.loop)
    }
}

@available(*, unavailable)
extension BackgroundRevalidation: Sendable {}
