import Logging
import NIOCore
import NIOHTTP1

/// What a listener puts in front of the proxy handler on each connection, after TLS:
/// `HeadTimer` (raw bytes; `header-timeout`) → NIO's HTTP/1 server codec → `RequestGuard`
/// (framing rules, size limits, rate limit; answers the decoder's errors).
struct ListenerGuards: Sendable {
    let limits: ProxyConfiguration.Limits
    let rules: RequestRules
    /// The rate limit's buckets in this process; nil when they are in Redis.
    let rateLimiter: RateLimiter?
    /// The rate limit's buckets in Redis, when the cache is there (and the limit is not `local`).
    let sharedRateLimiter: SharedRateLimiter?
    let allowList: [AddressRange]
    let logger: Logger

    init(limits: ProxyConfiguration.Limits, allowList: [AddressRange] = [], redis: RedisCacheStore? = nil, logger: Logger) {
        self.limits = limits
        self.allowList = allowList
        self.rules = RequestRules(limits)
        if let limit = limits.rateLimit, let redis, !limit.local {
            self.sharedRateLimiter = SharedRateLimiter(limit, store: redis)
            self.rateLimiter = nil  // the shared limiter keeps its own local fallback
        } else {
            self.sharedRateLimiter = nil
            self.rateLimiter = limits.rateLimit.map { RateLimiter($0) }
        }
        self.logger = logger
    }

    /// NIO's decoder stops at a head larger than this (431): above our own limits by the URI's
    /// allowance, so that `RequestGuard` can tell a long URI (414) from large fields (431).
    var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        let total = self.limits.maxHeaderSize.addingReportingOverflow(self.limits.maxURILength)
        decoderLimits.maxHeaderListSize = total.overflow ? Int.max : total.partialValue
        decoderLimits.maxHeaderFieldSize = decoderLimits.maxHeaderListSize
        decoderLimits.maxHeaderFieldCount = min(Int(UInt16.max) - 1, self.limits.maxHeaderCount + 1)
        return decoderLimits
    }

    /// One per listener: in the listening channel's pipeline.
    func connectionLimiter() -> ConnectionLimiter {
        let logger = self.logger
        let limit = self.limits.maxConnections
        return ConnectionLimiter(limit: limit) { refused in
            logger.warning(
                "connection refused: max-connections reached", metadata: ["max-connections": "\(limit)", "refused-so-far": "\(refused)"])
        }
    }

    /// The handlers' names in the pipeline: a protocol upgrade (WebSocket) that takes the HTTP/1
    /// codec out must take these two out with it.
    static let headTimerName = "tern.head-timer"
    static let requestGuardName = "tern.request-guard"

    /// Adds the HTTP/1 codec with the guards around it to a new connection's pipeline. NIO's
    /// response-header validator is left out (it cost 6–8% of a cache hit): response fields come
    /// from upstreams whose heads our decoder has already refused if they held CR, LF or NUL,
    /// from stored entries of such heads, or from proxy.conf, whose values the config refuses
    /// control characters in.
    func addHTTPHandlers(to sync: ChannelPipeline.SynchronousOperations, loop: LoopState) throws {
        let timer = HeadTimer(
            timeout: self.limits.headerTimeout.timeAmount, keepAliveTimeout: self.limits.keepAliveTimeout.timeAmount,
            logger: self.logger)
        try sync.addHandler(timer, name: Self.headTimerName)
        try sync.configureHTTPServerPipeline(
            withPipeliningAssistance: false,  // ProxyHandler queues pipelined requests itself
            withErrorHandling: false,  // RequestGuard answers the decoder's errors (400 or 431)
            withOutboundHeaderValidation: false,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: self.decoderLimits
        )
        try sync.addHandler(
            RequestGuard(
                rules: self.rules, rateLimiter: self.rateLimiter, sharedRateLimiter: self.sharedRateLimiter,
                allowList: self.allowList, timer: timer, loop: loop, logger: self.logger),
            name: Self.requestGuardName)
    }
}
