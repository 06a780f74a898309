import NIOCore
import TernRedis

/// `rate-limit` when the cache is in Redis: the buckets live in Redis (`tern_rate_take` in
/// `tern.lua`), so every proxy that shares the cache shares each client address's budget, as the
/// address would see it from behind a load balancer. One Redis round trip per request head, on the
/// connection's own loop; `RequestGuard` holds the request's parts (and stops reading) meanwhile.
///
/// The cache's rules hold here too: Redis down, slow or failing is never a refused request. The
/// operation goes through the cache store's circuit breaker and timeout, and a failure falls back
/// to this process's own bucket (`local`), which then admits as `rate-limit` says for one process.
final class SharedRateLimiter: Sendable {
    let local: RateLimiter
    private let store: RedisCacheStore
    /// `tern:rl:<rate>:<burst>:{address}`: proxies with the same limit share buckets; a change of
    /// limit starts afresh rather than reading buckets filled at another rate.
    private let keyPrefix: String
    private let rate: RESPArgument
    private let burst: RESPArgument

    init(_ limit: ProxyConfiguration.RateLimit, store: RedisCacheStore) {
        self.local = RateLimiter(limit)
        self.store = store
        let rate = limit.requestsPerSecond
        let rateText = rate == rate.rounded() ? String(Int(rate)) : String(rate)
        self.keyPrefix = "tern:rl:\(rateText):\(limit.burst):"
        self.rate = .string(rateText)
        self.burst = .string(String(limit.burst))
    }

    func key(for client: String) -> String { "\(self.keyPrefix){\(client)}" }

    /// Completes on `loop` with nil (admitted: one token spent) or the whole seconds to wait.
    func admit(_ client: String, on loop: any EventLoop) -> EventLoopFuture<Int?> {
        let store = self.store
        let key = self.key(for: client)
        let arguments = [self.rate, self.burst]
        let local = self.local
        return store.guarded("rate limit", on: loop) {
            store.client.fcall("tern_rate_take", keys: [key], arguments: arguments, on: loop)
        }.flatMapThrowing { reply -> Int? in
            guard case .integer(let milliseconds) = reply, milliseconds >= 0 else {
                throw CacheStoreError(code: .corrupt, detail: "tern_rate_take answered \(reply)")
            }
            return milliseconds == 0 ? nil : max(1, Int((milliseconds + 999) / 1000))
        }.flatMapErrorThrowing { _ in
            // The store logged and counted the failure; this process's bucket decides.
            local.admit(client)
        }
    }
}
