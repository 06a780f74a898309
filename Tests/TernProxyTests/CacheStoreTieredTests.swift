import NIOCore
import NIOPosix
import TernRedis
import TernTestSupport
import XCTest

@testable import TernProxy

/// The shared suite against `TieredCacheStore` (memory in front of Redis), plus promotion into
/// memory, hits from memory without Redis, and purges reaching another proxy's memory tier.
final class CacheStoreTieredTests: XCTestCase {
    private var server: RedisServerProcess?

    private func tiered(_ server: RedisServerProcess) throws -> (TieredCacheStore, any EventLoop) {
        let (redis, loop) = try self.makeRedisStore(try RedisConfiguration(url: server.url))
        let store = TieredCacheStore(redis: redis, memoryCapacity: 64 * 1024 * 1024, logger: .init(label: "test.cache"))
        addTeardownBlock { await store.shutdown() }
        return (store, loop)
    }

    private func contract() throws -> CacheStoreContract {
        let server = try self.startCacheRedis()
        self.server = server
        let (store, loop) = try self.tiered(server)
        var contract = CacheStoreContract(
            store: store, loop: loop, maxChunkSize: store.redis.options.chunkSize, maxObjectSize: store.redis.options.maxObjectSize
        )
        // A Redis hit is promoted into memory in the background: wait for it to be there.
        contract.settle = { key in
            let deadline = ContinuousClock.now + .seconds(15)
            while store.memoryTier.lookupNow(key, now: .now()).isEmpty {
                guard ContinuousClock.now < deadline else { throw NotYet("not promoted into memory") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        return contract
    }

    func testMiss() async throws { try await self.contract().miss() }
    func testStoreAndHitOneByte() async throws { try await self.contract().storeAndHit(size: 1) }
    func testStoreAndHitOneKiB() async throws { try await self.contract().storeAndHit(size: 1024) }
    func testStoreAndHitFiveMiB() async throws { try await self.contract().storeAndHit(size: 5 * 1024 * 1024) }
    func testEmptyBodyAndPassMarker() async throws { try await self.contract().emptyBodyAndPassMarker() }
    func testVariantsUnderOneKey() async throws { try await self.contract().variantsUnderOneKey() }
    func testInvisibleBeforeFinish() async throws { try await self.contract().invisibleBeforeFinish() }
    func testReplacementInProgressDoesNotDisturbTheStoredOne() async throws { try await self.contract().replacementInProgressDoesNotDisturbTheStoredOne() }
    func testAbandonLeavesNothing() async throws { try await self.contract().abandonLeavesNothing() }
    func testMaxObjectSizeStoresNothing() async throws { try await self.contract().maxObjectSizeStoresNothing() }
    func testTTLExpiry() async throws { try await self.contract().ttlExpiry() }
    func testUpdateKeepsTheBody() async throws { try await self.contract().updateKeepsTheBody() }
    func testPurgeRemovesEveryVariant() async throws { try await self.contract().purgeRemovesEveryVariant() }
    func testReplacedGenerationIsNeverRead() async throws { try await self.contract().replacedGenerationIsNeverRead() }
    func testLease() async throws { try await self.contract().lease() }

    func testRedisHitsArePromotedAndServedFromMemoryWithoutRedis() async throws {
        let contract = try self.contract()
        let server = try XCTUnwrap(self.server)
        let store = try XCTUnwrap(contract.store as? TieredCacheStore)
        let key = CacheStoreContract.uniqueKey()
        let big = CacheStoreContract.uniqueKey("big")
        let body = CacheStoreContract.body(100_000)
        try await contract.put(key, CacheStoreContract.response(), body)
        try await contract.put(big, CacheStoreContract.response(), CacheStoreContract.body(2 * 1024 * 1024))
        // The first lookups come from Redis and copy the small entry into memory.
        let first = try await contract.variants(key)
        XCTAssertEqual(first.count, 1)
        let bigHit = try await contract.variants(big)
        XCTAssertEqual(bigHit.count, 1)
        _ = try await self.cacheEventually {
            if store.memoryTier.lookupNow(key, now: .now()).isEmpty { throw NotYet("not promoted yet") }
        }
        var joined = ByteBuffer()
        let promoted = try XCTUnwrap(store.memoryTier.lookupNow(key, now: .now()).first)
        XCTAssertEqual(promoted.generation, first.first?.generation, "memory keeps Redis's generation")
        for var chunk in try XCTUnwrap(store.memoryTier.bodyNow(key, variant: promoted)) { joined.writeBuffer(&chunk) }
        XCTAssertEqual(joined, body)
        XCTAssertTrue(store.memoryTier.lookupNow(big, now: .now()).isEmpty, "a body over the promotion limit stays out of memory")
        // With Redis gone, the hot entry is still a hit.
        server.stop()
        let hit = try await contract.variants(key)
        XCTAssertEqual(hit.first?.bodyLength, body.readableBytes)
        let (read, _) = try await contract.readBody(key, try XCTUnwrap(hit.first))
        XCTAssertEqual(read, body)
        do {
            _ = try await contract.variants(big)
            XCTFail("a Redis-only entry answered with Redis down")
        } catch is CacheStoreError {}
    }

    func testWritesAfterAMissGoThroughToMemory() async throws {
        let contract = try self.contract()
        let store = try XCTUnwrap(contract.store as? TieredCacheStore)
        let key = CacheStoreContract.uniqueKey()
        let miss = try await contract.variants(key)
        XCTAssertTrue(miss.isEmpty)
        try await contract.put(key, CacheStoreContract.response(), CacheStoreContract.body(300_000))
        let memoryHit = try XCTUnwrap(store.memoryTier.lookupNow(key, now: .now()).first)
        XCTAssertEqual(memoryHit.bodyLength, 300_000)
        // Memory holds the body under Redis's generation, and chunk n of it holds the same bytes
        // in memory and in Redis, whichever tier answers a read.
        let redis = CacheStoreContract(store: store.redis, loop: contract.loop, maxChunkSize: nil, maxObjectSize: 0)
        let redisHits = try await redis.variants(key)
        XCTAssertEqual(redisHits.first?.generation, memoryHit.generation)
        let inMemory = try XCTUnwrap(store.memoryTier.bodyNow(key, variant: memoryHit))
        for (index, chunk) in inMemory.enumerated() {
            let fromRedis = try await redis.chunk(index, key, memoryHit)
            XCTAssertEqual(fromRedis, chunk, "chunk \(index)")
        }
        XCTAssertGreaterThan(inMemory.count, 1)
        // A variant too large for memory drops the key from memory, so it never hides one.
        try await contract.put(key, CacheStoreContract.response("big"), CacheStoreContract.body(1024 * 1024 + 1))
        XCTAssertFalse(store.memoryTier.contains(key))
        let both = try await contract.variants(key)
        XCTAssertEqual(Set(both.map(\.variantID)), ["", "big"])
    }

    func testPurgeClearsAnotherProxysMemoryTier() async throws {
        let server = try self.startCacheRedis()
        let (a, loopA) = try self.tiered(server)
        let (b, loopB) = try self.tiered(server)
        let proxyA = CacheStoreContract(store: a, loop: loopA, maxChunkSize: nil, maxObjectSize: a.redis.options.maxObjectSize)
        let proxyB = CacheStoreContract(store: b, loop: loopB, maxChunkSize: nil, maxObjectSize: b.redis.options.maxObjectSize)
        _ = try await self.cacheEventually {
            if !a.isSubscribed || !b.isSubscribed { throw NotYet("not subscribed yet") }
        }
        let key = CacheStoreContract.uniqueKey()
        let other = CacheStoreContract.uniqueKey("other")
        try await proxyA.put(key, CacheStoreContract.response(), CacheStoreContract.body(500))
        try await proxyA.put(other, CacheStoreContract.response(), CacheStoreContract.body(500))
        for entry in [key, other] {
            let found = try await proxyB.variants(entry)
            XCTAssertEqual(found.count, 1)
        }
        _ = try await self.cacheEventually {
            if !b.memoryTier.contains(key) || !b.memoryTier.contains(other) { throw NotYet("B has not promoted yet") }
        }
        let purged = try await proxyA.purge(key)
        XCTAssertTrue(purged)
        _ = try await self.cacheEventually {
            if b.memoryTier.contains(key) { throw NotYet("B still holds the purged entry") }
        }
        XCTAssertTrue(b.memoryTier.contains(other), "a purge dropped another key")
        let gone = try await proxyB.variants(key)
        XCTAssertTrue(gone.isEmpty)
    }

    func testSubscriptionComesBackAfterARedisRestart() async throws {
        let server = try self.startCacheRedis()
        let (store, _) = try self.tiered(server)
        _ = try await self.cacheEventually {
            if !store.isSubscribed { throw NotYet("not subscribed") }
        }
        server.stop()
        _ = try await self.cacheEventually {
            if store.isSubscribed { throw NotYet("still subscribed") }
        }
        let restarted = try self.startCacheRedis(port: server.port)
        _ = try await self.cacheEventually {
            if !store.isSubscribed { throw NotYet("not subscribed again") }
        }
        let receivers = try restarted.cli(["PUBSUB", "NUMSUB", TieredCacheStore.purgeChannel])
        XCTAssertTrue(receivers.hasSuffix("1\n") || receivers.contains("\n1"), receivers)
    }
}
