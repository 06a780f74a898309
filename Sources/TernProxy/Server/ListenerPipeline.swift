import Logging
import NIOCore
import NIOHTTP1

/// What a listener puts in front of the proxy handler on each connection, after TLS:
/// `HeadTimer` (raw bytes; `header-timeout`) → `HTTP1ServerCodec` → `RequestGuard` (framing
/// rules, size limits, rate limit; answers the parser's errors).
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

    /// The parser stops at a head larger than this (431): above our own limits by the URI's
    /// allowance and each line's punctuation, so that `RequestGuard` can tell a long URI (414)
    /// from large fields (431).
    var maxHeadBytes: Int {
        let cap = Int.max / 8
        return min(self.limits.maxHeaderSize, cap) + min(self.limits.maxURILength, cap) + 4 * min(self.limits.maxHeaderCount + 1, cap) + 64
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
    static let codecName = "tern.http1"

    /// Adds the HTTP/1 codec (`HTTP1ServerCodec`) with the guards around it to a new connection's
    /// pipeline. Response fields are not validated on the way out (NIO's validator cost 6–8% of a
    /// cache hit): they come from upstream heads our parser has already refused if they held CR,
    /// LF or NUL, from stored entries of such heads, or from proxy.conf, whose values the config
    /// refuses control characters in.
    func addHTTPHandlers(to sync: ChannelPipeline.SynchronousOperations, loop: LoopState) throws {
        let timer = HeadTimer(
            timeout: self.limits.headerTimeout.timeAmount, keepAliveTimeout: self.limits.keepAliveTimeout.timeAmount,
            logger: self.logger)
        let codec = HTTP1ServerCodec(
            maxHeadBytes: self.maxHeadBytes, maxFieldCount: min(Int(UInt16.max) - 1, self.limits.maxHeaderCount + 1))
        let requestGuard = RequestGuard(
            rules: self.rules, rateLimiter: self.rateLimiter, sharedRateLimiter: self.sharedRateLimiter,
            allowList: self.allowList, timer: timer, loop: loop, logger: self.logger)
        try sync.addHandler(timer, name: Self.headTimerName)
        try sync.addHandler(codec, name: Self.codecName)
        try sync.addHandler(requestGuard, name: Self.requestGuardName)
        // Reads go from each to the next by a direct call (each clears its link when removed).
        timer.codec = codec
        codec.requestGuard = requestGuard
    }
}
