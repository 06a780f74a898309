import NIOCore
import NIOPosix
import XCTest

@testable import TernProxy

/// The shared suite against `MemoryCacheStore`, plus LRU eviction and the synchronous hit path.
final class CacheStoreMemoryTests: XCTestCase {
    private func contract(capacity: Int = 64 * 1024 * 1024) throws -> CacheStoreContract {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        addTeardownBlock { try? await group.shutdownGracefully() }
        let store = MemoryCacheStore(capacity: capacity, maxObjectSize: 6 * 1024 * 1024)
        return CacheStoreContract(store: store, loop: group.next(), maxChunkSize: MemoryCacheStore.defaultChunkSize, maxObjectSize: store.maxObjectSize)
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

    func testLeastRecentlyUsedEntriesAreEvicted() async throws {
        let contract = try self.contract(capacity: 16 * 1024)
        let store = try XCTUnwrap(contract.store as? MemoryCacheStore)
        let keys = (0..<3).map { CacheStoreContract.uniqueKey("lru-\($0)") }
        for key in keys { try await contract.put(key, CacheStoreContract.response(), CacheStoreContract.body(4 * 1024)) }
        XCTAssertEqual(store.count, 3)
        // Using the first makes the second the least recently used.
        XCTAssertEqual(store.lookupNow(keys[0], now: .now()).count, 1)
        let fourth = CacheStoreContract.uniqueKey("lru-3")
        try await contract.put(fourth, CacheStoreContract.response(), CacheStoreContract.body(4 * 1024))
        XCTAssertEqual(store.lookupNow(keys[1], now: .now()).count, 0, "the least recently used entry stayed")
        XCTAssertEqual(store.lookupNow(keys[0], now: .now()).count, 1)
        XCTAssertEqual(store.lookupNow(keys[2], now: .now()).count, 1)
        XCTAssertEqual(store.lookupNow(fourth, now: .now()).count, 1)
        XCTAssertLessThanOrEqual(store.usedBytes, 16 * 1024)
        // An entry larger than the whole capacity is not kept, and evicts nothing.
        let huge = CacheStoreContract.uniqueKey("lru-huge")
        try await contract.put(huge, CacheStoreContract.response(), CacheStoreContract.body(20 * 1024))
        XCTAssertTrue(store.lookupNow(huge, now: .now()).isEmpty)
        XCTAssertEqual(store.count, 3)
    }

    func testSynchronousHitPath() async throws {
        let contract = try self.contract()
        let store = try XCTUnwrap(contract.store as? MemoryCacheStore)
        let key = CacheStoreContract.uniqueKey()
        XCTAssertTrue(store.lookupNow(key, now: .now()).isEmpty)
        XCTAssertNil(store.bodyNow(key, variant: CacheStoreContract.response()))
        let body = CacheStoreContract.body(200 * 1024)
        try await contract.put(key, CacheStoreContract.response(), body)
        let hit = try XCTUnwrap(store.lookupNow(key, now: .now()).first)
        XCTAssertEqual(hit.bodyLength, body.readableBytes)
        let chunks = try XCTUnwrap(store.bodyNow(key, variant: hit))
        XCTAssertEqual(chunks.count, 4, "200 KiB in 64 KiB chunks")
        var joined = ByteBuffer()
        for var chunk in chunks { joined.writeBuffer(&chunk) }
        XCTAssertEqual(joined, body)
        // A replaced body is gone for whoever looked it up; the new one is there under its own generation.
        try await contract.put(key, CacheStoreContract.response(), CacheStoreContract.body(100, seed: 9))
        XCTAssertNil(store.bodyNow(key, variant: hit))
        let replaced = try XCTUnwrap(store.lookupNow(key, now: .now()).first)
        XCTAssertNotEqual(replaced.generation, hit.generation)
        XCTAssertEqual(store.bodyNow(key, variant: replaced), [CacheStoreContract.body(100, seed: 9)])
        // Expiry is judged by the time given.
        XCTAssertTrue(store.lookupNow(key, now: .now() + .seconds(120)).isEmpty)
        XCTAssertEqual(store.count, 0, "an expired entry is dropped when seen")
    }

    func testCostCountsBodyAndMetadata() async throws {
        let contract = try self.contract()
        let store = try XCTUnwrap(contract.store as? MemoryCacheStore)
        let key = CacheStoreContract.uniqueKey()
        try await contract.put(key, CacheStoreContract.response(), CacheStoreContract.body(1000))
        XCTAssertGreaterThan(store.usedBytes, 1000 + MemoryCacheStore.variantOverhead - 1)
        _ = try await contract.purge(key)
        XCTAssertEqual(store.usedBytes, 0)
    }
    func testATierKeepsEntriesWhole() {
        let store = MemoryCacheStore(capacity: 1 << 20, maxObjectSize: 1 << 16, keepsEntriesWhole: true)
        let key = CacheStoreContract.uniqueKey()
        let now = NIODeadline.now()
        store.insert(key, response: CacheStoreContract.response("short"), chunks: [], expires: now + .seconds(1))
        store.insert(key, response: CacheStoreContract.response("long"), chunks: [], expires: now + .seconds(100))
        XCTAssertEqual(store.lookupNow(key, now: now).count, 2)
        // One variant expired: the whole entry goes, so the next lookup asks the shared store.
        XCTAssertTrue(store.lookupNow(key, now: now + .seconds(2)).isEmpty)
        XCTAssertFalse(store.contains(key))
        // A variant too large for the tier drops the entry rather than leaving the others alone.
        store.insert(key, response: CacheStoreContract.response("a"), chunks: [], expires: now + .seconds(100))
        let inserted = store.insert(key, response: CacheStoreContract.response("b"), chunks: [CacheStoreContract.body(2 << 20)], expires: now + .seconds(100))
        XCTAssertFalse(inserted)
        XCTAssertFalse(store.contains(key))
    }

    func testManyLoopsAtOnce() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 4)
        addTeardownBlock { try? await group.shutdownGracefully() }
        let store = MemoryCacheStore(capacity: 256 * 1024, maxObjectSize: 64 * 1024)
        let keys = (0..<64).map { CacheStoreContract.uniqueKey("many-\($0)") }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for worker in 0..<8 {
                let contract = CacheStoreContract(store: store, loop: group.next(), maxChunkSize: nil, maxObjectSize: 64 * 1024)
                tasks.addTask {
                    for round in 0..<40 {
                        let key = keys[(worker * 7 + round) % keys.count]
                        let body = CacheStoreContract.body(1000 + round * 100, seed: UInt8(round))
                        try await contract.put(key, CacheStoreContract.response(), body)
                        if let hit = try await contract.variants(key).first {
                            // Another worker may have replaced it (or it was evicted) since: the
                            // read stops at a nil, but what it reads is the body looked up.
                            var read = ByteBuffer()
                            for index in 0..<hit.chunkCount {
                                guard var chunk = try await contract.chunk(index, key, hit) else { break }
                                read.writeBuffer(&chunk)
                            }
                            if read.readableBytes > 0 {
                                XCTAssertEqual(read.readableBytes, hit.bodyLength, "a body read with its generation is whole")
                                let writer = (hit.bodyLength - 1000) / 100
                                XCTAssertEqual(read, CacheStoreContract.body(hit.bodyLength, seed: UInt8(writer)))
                            }
                        }
                        _ = try await contract.acquire(key, "w\(worker)")
                        try await contract.release(key, "w\(worker)")
                    }
                }
            }
            try await tasks.waitForAll()
        }
        XCTAssertLessThanOrEqual(store.usedBytes, 256 * 1024)
    }
}
