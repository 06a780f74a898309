#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import NIOCore
import NIOHTTP1

/// The cache as the request path sees it: the store (memory, Redis, or memory in front of Redis),
/// the memory tier that answers hits without a future, and the settings from proxy.conf. One per
/// `ProxyServer`, shared by every loop; everything in it is thread-safe.
final class ProxyCache: Sendable {
    let settings: ProxyConfiguration.Cache
    let store: any CacheStore
    /// Answers hits synchronously: the memory store itself, or the memory tier in front of Redis.
    let memory: MemoryCacheStore?
    /// Names this process's leases, so only the holder releases one.
    let holder: String
    let logger: Logger
    /// Seconds a stale response with a validator is kept for revalidation.
    let revalidationGrace: Int64
    /// How long a "not storable" marker lets requests skip the coalescing wait.
    static let passMarkerTTL: TimeAmount = .seconds(10)
    static let name = "tern"

    let hits = Counter(label: "tern_cache_requests_total", dimensions: [("result", "hit")])
    let misses = Counter(label: "tern_cache_requests_total", dimensions: [("result", "miss")])
    let revalidations = Counter(label: "tern_cache_requests_total", dimensions: [("result", "revalidated")])
    let stored = Counter(label: "tern_cache_stores_total")
    let storeErrors = Counter(label: "tern_cache_lookup_errors_total")

    init(settings: ProxyConfiguration.Cache, eventLoopGroup: any EventLoopGroup, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        let timeout = TimeAmount.nanoseconds(Int64(settings.storeTimeout.components.seconds) * 1_000_000_000
            + settings.storeTimeout.components.attoseconds / 1_000_000_000)
        let spec: CacheStoreSpec
        switch settings.store {
        case .memory(let capacity):
            spec = .memory(capacity: capacity, maxObjectSize: settings.maxObjectSize)
        case .redis(let url):
            spec = .redis(url: url, memoryTier: settings.memoryTier, maxObjectSize: settings.maxObjectSize, timeout: timeout)
        case .redisCluster(let urls):
            spec = .redisCluster(urls: urls, memoryTier: settings.memoryTier, maxObjectSize: settings.maxObjectSize, timeout: timeout)
        }
        self.store = try CacheStoreFactory.make(spec, eventLoopGroup: eventLoopGroup, logger: logger)
        if let memory = self.store as? MemoryCacheStore {
            self.memory = memory
        } else if let tiered = self.store as? TieredCacheStore, settings.memoryTier > 0 {
            self.memory = tiered.memoryTier
        } else {
            self.memory = nil
        }
        var random = SystemRandomNumberGenerator()
        self.holder = String(random.next() as UInt64, radix: 36)
        self.revalidationGrace = max(0, settings.keepStale.components.seconds)
    }

    /// The Redis store under the cache (alone or behind the memory tier); nil for `cache memory`.
    /// `rate-limit` keeps its buckets there too.
    var redisStore: RedisCacheStore? {
        (self.store as? RedisCacheStore) ?? (self.store as? TieredCacheStore)?.redis
    }

    /// Seconds since the Unix epoch: the clock RFC 9111's arithmetic runs on.
    static func now() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }

    var lockTimeout: TimeAmount {
        .nanoseconds(Int64(self.settings.lockTimeout.components.seconds) * 1_000_000_000
            + self.settings.lockTimeout.components.attoseconds / 1_000_000_000)
    }

    func ttl(for response: CachedResponse) -> TimeAmount {
        .seconds(CachePolicy.storeTTL(response, revalidationGrace: self.revalidationGrace))
    }

    /// A store that failed is a miss: one log line (the store rate-limits its own) and a count.
    func lookupFailed(_ error: any Error, key: CacheKey) {
        self.storeErrors.increment()
        self.logger.debug("cache lookup failed, treated as a miss", metadata: ["uri": "\(key.uri)", "error": "\(error)"])
    }

    func shutdown() async {
        await self.store.shutdown()
    }
}
