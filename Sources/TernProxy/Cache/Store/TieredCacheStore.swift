import Logging
import NIOConcurrencyHelpers
import NIOCore
import TernRedis

/// A memory tier in front of a `RedisCacheStore`, so hot entries need no round trip.
///
/// - Memory holds each body under Redis's generation, so a chunk read is answered by memory when
///   it holds that generation and by Redis otherwise, with the same bytes either way.
/// - `variants` answers from memory when it can, else from Redis; a Redis hit whose variants are
///   all small (`promotionLimit`) is copied into memory in the background (its bodies fetched
///   once). Memory keeps an entry at most `memoryTTL` (and never past its Redis expiry), so
///   revalidations by other proxies show up.
/// - An entry in memory always holds every variant Redis had when it was copied (or written
///   after a miss that found nothing), so the tier never hides a variant it does not know of.
/// - Writers write through to both (memory only when small); `purge` deletes in Redis, drops the
///   memory entry and publishes the key hash on `tern:purge`, which every tier subscribes to.
final class TieredCacheStore: CacheStore {
    static let purgeChannel = "tern:purge"

    /// The tier the proxy reads synchronously (`lookupNow`, `bodyNow`).
    let memoryTier: MemoryCacheStore
    let redis: RedisCacheStore
    /// The longest a memory entry lives.
    let memoryTTL: TimeAmount
    /// The largest body (per variant) kept in memory.
    let promotionLimit: Int
    private let logger: Logger
    private struct Shared {
        var subscription: Task<Void, Never>?
        var subscribed = false
        var promoting: Set<String> = []
    }
    private let shared: NIOLockedValueBox<Shared>

    init(
        redis: RedisCacheStore,
        memoryCapacity: Int,
        memoryTTL: TimeAmount = .seconds(60),
        promotionLimit: Int = 1024 * 1024,
        logger: Logger
    ) {
        self.redis = redis
        self.memoryTTL = memoryTTL
        self.promotionLimit = min(promotionLimit, memoryCapacity)
        // The same chunk size as Redis: chunk n is the same bytes in both tiers, whichever answers.
        self.memoryTier = MemoryCacheStore(
            capacity: memoryCapacity, maxObjectSize: max(1, self.promotionLimit), chunkSize: redis.options.chunkSize,
            keepsEntriesWhole: true
        )
        self.logger = logger
        self.shared = NIOLockedValueBox(Shared())
        self.startSubscription()
    }

    /// Whether the purge subscription is confirmed now.
    var isSubscribed: Bool { self.shared.withLockedValue { $0.subscribed } }

    // MARK: CacheStore

    func variants(of key: CacheKey, on loop: any EventLoop) -> EventLoopFuture<[CachedResponse]> {
        let hits = self.memoryTier.lookupNow(key, now: .now())
        if !hits.isEmpty { return loop.makeSucceededFuture(hits) }
        let removals = self.memoryTier.removalCount
        return self.redis.storedVariants(of: key, on: loop).map { stored in
            self.promote(key, stored, removals: removals, on: loop)
            return stored.map(\.response)
        }
    }

    func chunk(_ index: Int, of key: CacheKey, variant: CachedResponse, on loop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        if let chunks = self.memoryTier.bodyNow(key, variant: variant), chunks.indices.contains(index) {
            return loop.makeSucceededFuture(chunks[index])
        }
        return self.redis.chunk(index, of: key, variant: variant, on: loop)
    }

    func writer(for key: CacheKey, response: CachedResponse, ttl: TimeAmount, on loop: any EventLoop) -> any CacheWriter {
        let redisWriter = RedisCacheWriter(store: self.redis, key: key, response: response, ttl: ttl, loop: loop)
        // Memory stores the body under Redis's generation: either tier answers a read of it.
        let memoryWriter = MemoryCacheWriter(
            store: self.memoryTier, key: key, response: response, ttl: min(ttl, self.memoryTTL),
            maxObjectSize: self.promotionLimit, generation: redisWriter.generation, onlyIfPresent: true
        )
        return TieredCacheWriter(key: key, redis: redisWriter, memory: memoryWriter, memoryTier: self.memoryTier)
    }

    func update(_ key: CacheKey, response: CachedResponse, ttl: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Void> {
        self.memoryTier.update(key, response: response, expires: .now() + min(ttl, self.memoryTTL))
        return self.redis.update(key, response: response, ttl: ttl, on: loop)
    }

    func purge(_ key: CacheKey, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        let inMemory = self.memoryTier.remove(hash: key.hash)
        let client = self.redis.client
        return self.redis.purge(key, on: loop).flatMap { stored in
            // Tell the other proxies' memory tiers; a failure here is logged by the breaker only.
            self.redis.guarded("PUBLISH", on: loop) {
                client.publish(ByteBuffer(string: key.hash), to: Self.purgeChannel, on: loop)
            }.map { _ in stored || inMemory }.recover { _ in stored || inMemory }
        }
    }

    func acquireLease(_ key: CacheKey, holder: String, ttl: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        self.redis.acquireLease(key, holder: holder, ttl: ttl, on: loop)
    }

    func releaseLease(_ key: CacheKey, holder: String, on loop: any EventLoop) {
        self.redis.releaseLease(key, holder: holder, on: loop)
    }

    func shutdown() async {
        let task = self.shared.withLockedValue { shared -> Task<Void, Never>? in
            defer { shared.subscription = nil }
            return shared.subscription
        }
        task?.cancel()
        await task?.value
        await self.redis.shutdown()
    }

    // MARK: Promotion

    /// Copies an entry Redis answered into memory when every variant is small: all of them or
    /// none, so memory never holds part of an entry. A miss (no variant) is remembered too, so a
    /// writer after it may fill memory directly. Skipped when anything was purged meanwhile.
    private func promote(_ key: CacheKey, _ stored: [RedisCacheStore.StoredVariant], removals: UInt64, on loop: any EventLoop) {
        guard stored.allSatisfy({ $0.response.bodyLength <= self.promotionLimit }) else { return }
        var lifetime = self.memoryTTL
        if let earliest = stored.map(\.expiresAtMs).min() {
            let left = earliest - RedisCacheStore.nowMs()
            if left < lifetime.nanoseconds / 1_000_000 { lifetime = .milliseconds(max(0, left)) }
        }
        guard lifetime > .zero else { return }
        let expires = NIODeadline.now() + lifetime
        if stored.isEmpty {
            self.memoryTier.replaceEntry(key, variants: [], expires: expires, unlessRemovedSince: removals)
            return
        }
        let started = self.shared.withLockedValue { $0.promoting.insert(key.hash).inserted }
        guard started else { return }
        self.fetchBodies(key, stored.map(\.response), on: loop).whenComplete { result in
            self.shared.withLockedValue { _ = $0.promoting.remove(key.hash) }
            guard case .success(let variants) = result, let variants else { return }
            self.memoryTier.replaceEntry(key, variants: variants, expires: expires, unlessRemovedSince: removals)
        }
    }

    /// Every chunk of every variant, one after the other; nil if any is gone.
    private func fetchBodies(
        _ key: CacheKey,
        _ responses: [CachedResponse],
        on loop: any EventLoop
    ) -> EventLoopFuture<[(response: CachedResponse, chunks: [ByteBuffer])]?> {
        var future = loop.makeSucceededFuture([(response: CachedResponse, chunks: [ByteBuffer])]?.some([]))
        for response in responses {
            future = future.flatMap { collected in
                guard let collected else { return loop.makeSucceededFuture(nil) }
                return self.fetchChunks(key, response, from: 0, into: [], on: loop).map { chunks in
                    chunks.map { collected + [(response: response, chunks: $0)] }
                }
            }
        }
        return future
    }

    private func fetchChunks(
        _ key: CacheKey,
        _ response: CachedResponse,
        from index: Int,
        into chunks: [ByteBuffer],
        on loop: any EventLoop
    ) -> EventLoopFuture<[ByteBuffer]?> {
        guard index < response.chunkCount else {
            let length = chunks.reduce(0) { $0 + $1.readableBytes }
            return loop.makeSucceededFuture(length == response.bodyLength ? chunks : nil)
        }
        return self.redis.chunk(index, of: key, variant: response, on: loop).flatMap { chunk in
            guard let chunk else { return loop.makeSucceededFuture(nil) }
            return self.fetchChunks(key, response, from: index + 1, into: chunks + [chunk], on: loop)
        }
    }

    // MARK: The purge subscription

    private func startSubscription() {
        let client = self.redis.client
        let memory = self.memoryTier
        let shared = self.shared
        let logger = self.logger
        let task = Task {
            var delay = Duration.milliseconds(100)
            var first = true
            while !Task.isCancelled {
                do {
                    let messages = try await client.subscribe(to: [Self.purgeChannel], bufferLimit: 10_000)
                    // Purges published while unsubscribed were missed: start the tier afresh.
                    if !first { memory.removeAll() }
                    first = false
                    shared.withLockedValue { $0.subscribed = true }
                    delay = .milliseconds(100)
                    for try await message in messages {
                        memory.remove(hash: String(buffer: message.payload))
                    }
                } catch {
                    if !Task.isCancelled {
                        logger.debug("cache purge subscription lost, retrying", metadata: ["cache.error": "\(error)"])
                    }
                }
                shared.withLockedValue { $0.subscribed = false }
                if Task.isCancelled { break }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        self.shared.withLockedValue { $0.subscription = task }
    }
}

/// Writes one body through to Redis and, when small and the memory entry is complete, to memory.
/// Gives up when the Redis writer does (memory alone would hide the entry from other proxies and
/// could show a variant Redis never got).
final class TieredCacheWriter: CacheWriter {
    private let key: CacheKey
    let redis: RedisCacheWriter
    private let memory: MemoryCacheWriter
    private let memoryTier: MemoryCacheStore
    private var memoryTooLarge = false

    init(key: CacheKey, redis: RedisCacheWriter, memory: MemoryCacheWriter, memoryTier: MemoryCacheStore) {
        self.key = key
        self.redis = redis
        self.memory = memory
        self.memoryTier = memoryTier
    }

    func append(_ buffer: ByteBuffer) -> Bool {
        guard self.redis.append(buffer) else {
            self.memory.abandon()
            return false
        }
        if !self.memoryTooLarge, !self.memory.append(buffer) { self.memoryTooLarge = true }
        return true
    }

    func finish() {
        self.redis.finish()
        if self.memoryTooLarge {
            // Memory cannot hold this variant, so it must not keep the others alone.
            self.memoryTier.remove(hash: self.key.hash)
            return
        }
        // Into memory once Redis has it, so memory never shows what Redis does not hold.
        let memory = self.memory
        self.redis.whenDone().assumeIsolated().whenSuccess { stored in
            if stored { memory.finish() } else { memory.abandon() }
        }
    }

    func abandon() {
        self.redis.abandon()
        self.memory.abandon()
    }
}

extension TieredCacheWriter: AcknowledgedCacheWriter {
    func drained() -> EventLoopFuture<Void> { self.redis.drained() }
    func whenDone() -> EventLoopFuture<Bool> { self.redis.whenDone() }
}
