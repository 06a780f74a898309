import NIOCore
import NIOPosix
import TernRedis
import TernTestSupport
import XCTest

@testable import TernProxy

/// The shared suite against `RedisCacheStore` on a three-master Redis Cluster, started once for
/// the class: an entry's keys share a hash tag, so its Lua functions run within one slot.
final class CacheStoreClusterTests: XCTestCase {
    nonisolated(unsafe) private static var cluster: RedisClusterProcess?
    nonisolated(unsafe) private static var setupError: String?

    override class func setUp() {
        super.setUp()
        do {
            cluster = try RedisClusterProcess()
        } catch {
            setupError = "\(error)"
        }
    }

    override class func tearDown() {
        cluster?.remove()
        cluster = nil
        super.tearDown()
    }

    private func startedCluster() throws -> RedisClusterProcess {
        guard let cluster = Self.cluster else {
            XCTFail(Self.setupError ?? "no cluster")
            throw XCTSkipFailure(Self.setupError ?? "no cluster")
        }
        return cluster
    }

    private func contract() throws -> CacheStoreContract {
        let cluster = try self.startedCluster()
        let (store, loop) = try self.makeRedisStore(try RedisConfiguration(clusterURLs: [cluster.urls[0]])) { $0.timeout = .seconds(2) }
        return CacheStoreContract(store: store, loop: loop, maxChunkSize: store.options.chunkSize, maxObjectSize: store.options.maxObjectSize)
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

    func testEntriesSpreadOverTheNodesEachInOneSlot() async throws {
        let contract = try self.contract()
        let cluster = try self.startedCluster()
        var keys: [CacheKey] = []
        for index in 0..<12 {
            let key = CacheStoreContract.uniqueKey("spread-\(index)")
            keys.append(key)
            let stored = try await contract.put(key, CacheStoreContract.response(), CacheStoreContract.body(300_000))
            XCTAssertTrue(stored)
        }
        var nodesWithEntries = 0
        for node in cluster.nodes {
            let found = try node.cli(["--scan", "--pattern", "tern:*"]).split(separator: "\n")
            if !found.isEmpty { nodesWithEntries += 1 }
            // Each node holds whole entries: for every variants hash here, its chunks are here too.
            for key in keys where found.contains(where: { $0 == RedisCacheStore.variantsKey(key) }) {
                XCTAssertEqual(found.filter { $0.hasPrefix("tern:{\(key.hash)}:b:") }.count, 3)
            }
        }
        XCTAssertGreaterThan(nodesWithEntries, 1, "twelve entries all on one node")
        for key in keys {
            let hit = try await contract.variants(key)
            XCTAssertEqual(hit.first?.bodyLength, 300_000)
        }
    }
    func testTieredStoresOverTheClusterShareEntriesAndPurges() async throws {
        let cluster = try self.startedCluster()
        func tiered() throws -> (TieredCacheStore, CacheStoreContract) {
            let (redis, loop) = try self.makeRedisStore(try RedisConfiguration(clusterURLs: [cluster.urls[1]])) { $0.timeout = .seconds(2) }
            let store = TieredCacheStore(redis: redis, memoryCapacity: 8 << 20, logger: .init(label: "test.cache"))
            addTeardownBlock { await store.shutdown() }
            return (store, CacheStoreContract(store: store, loop: loop, maxChunkSize: nil, maxObjectSize: redis.options.maxObjectSize))
        }
        let (a, proxyA) = try tiered()
        let (b, proxyB) = try tiered()
        _ = try await self.cacheEventually {
            if !a.isSubscribed || !b.isSubscribed { throw NotYet("not subscribed yet") }
        }
        let key = CacheStoreContract.uniqueKey()
        let body = CacheStoreContract.body(200_000)
        try await proxyA.put(key, CacheStoreContract.response(), body)
        let hit = try await proxyB.variants(key)
        XCTAssertEqual(hit.first?.bodyLength, body.readableBytes)
        _ = try await self.cacheEventually {
            if !b.memoryTier.contains(key) { throw NotYet("B has not promoted yet") }
        }
        let purged = try await proxyA.purge(key)
        XCTAssertTrue(purged)
        _ = try await self.cacheEventually {
            if b.memoryTier.contains(key) { throw NotYet("B still holds the purged entry") }
        }
    }
}
