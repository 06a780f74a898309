import MetricsTestKit
import NIOCore
import NIOPosix
import TernRedis
import TernTestSupport
import XCTest

@testable import TernProxy

/// The shared suite against `RedisCacheStore` on a standalone `redis-server`, plus what only
/// Redis has: the key layout, corrupt data, a writer too far behind, Redis killed and restarted.
final class CacheStoreRedisTests: XCTestCase {
    private var server: RedisServerProcess?

    private let metrics = TestMetrics()

    private func contract(_ adjust: (inout RedisCacheStore.Options) -> Void = { _ in }) throws -> CacheStoreContract {
        let server = try self.startCacheRedis()
        self.server = server
        let (store, loop) = try self.makeRedisStore(try RedisConfiguration(url: server.url), metrics: self.metrics, adjust)
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

    /// A hit on a key with one variant is one round trip: the lookup carries chunk 0; with two
    /// variants it does not guess which one will be used.
    func testLookupBringsTheOnlyVariantsFirstChunk() async throws {
        let contract = try self.contract()
        let key = CacheStoreContract.uniqueKey()
        let body = CacheStoreContract.body(1024)
        _ = try await contract.put(key, CacheStoreContract.response("v1"), body)
        let one = try await contract.variants(key)
        XCTAssertEqual(one.count, 1)
        XCTAssertEqual(one.first?.firstChunk, body)
        let fromLookup = try await contract.chunk(0, key, try XCTUnwrap(one.first))
        XCTAssertEqual(fromLookup, body)
        _ = try await contract.put(key, CacheStoreContract.response("v2"), CacheStoreContract.body(10))
        let two = try await contract.variants(key)
        XCTAssertEqual(two.count, 2)
        XCTAssertTrue(two.allSatisfy { $0.firstChunk == nil })
    }

    func testKeyLayoutAndChunksOfAFiveMiBBody() async throws {
        let contract = try self.contract()
        let server = try XCTUnwrap(self.server)
        let store = try XCTUnwrap(contract.store as? RedisCacheStore)
        let key = CacheStoreContract.uniqueKey()
        let size = 5 * 1024 * 1024
        let stored = try await contract.put(key, CacheStoreContract.response("v1"), CacheStoreContract.body(size))
        XCTAssertTrue(stored)
        let hits = try await contract.variants(key)
        let hit = try XCTUnwrap(hits.first)
        XCTAssertGreaterThan(hit.chunkCount, 1)
        XCTAssertEqual(hit.chunkCount, (size + store.options.chunkSize - 1) / store.options.chunkSize)
        // Every key of the entry carries its hash tag; each chunk is one bounded Redis string.
        let keys = try server.cli(["--scan", "--pattern", "tern:*"]).split(separator: "\n").map(String.init)
        XCTAssertTrue(keys.allSatisfy { $0.hasPrefix("tern:{\(key.hash)}:") }, "\(keys.prefix(3))")
        XCTAssertTrue(keys.contains(RedisCacheStore.variantsKey(key)))
        let chunkKeys = keys.filter { $0.contains(":b:v1:") }
        XCTAssertEqual(chunkKeys.count, hit.chunkCount)
        for chunkKey in chunkKeys {
            let length = Int(try server.cli(["STRLEN", chunkKey]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            XCTAssertTrue(length > 0 && length <= store.options.chunkSize, "\(chunkKey): \(length) bytes")
        }
        let ttl = Int(try server.cli(["PTTL", chunkKeys[0]]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        XCTAssertGreaterThan(ttl, 0, "chunks expire")
    }

    func testAWriterTooFarBehindGivesUpAndLeavesNothing() async throws {
        let contract = try self.contract()
        let server = try XCTUnwrap(self.server)
        let key = CacheStoreContract.uniqueKey()
        let writer = try await contract.writer(key, CacheStoreContract.response())
        let body = CacheStoreContract.body(2 * 1024 * 1024)
        // All parts in one turn of the loop: no reply can arrive in between.
        let taken = try await contract.loop.submit { () -> Bool in
            var rest = body
            while rest.readableBytes > 0 {
                if !writer.value.append(rest.readSlice(length: min(64 * 1024, rest.readableBytes))!) { return false }
            }
            return true
        }.get()
        XCTAssertFalse(taken, "the writer must give up when too many chunks are unacknowledged")
        let outcome = try await contract.finish(writer)
        XCTAssertFalse(outcome)
        let found = try await contract.variants(key)
        XCTAssertTrue(found.isEmpty)
        _ = try await self.cacheEventually {
            let keys = try server.cli(["--scan", "--pattern", "tern:*"]).trimmingCharacters(in: .whitespacesAndNewlines)
            if !keys.isEmpty { throw NotYet("chunks left: \(keys.prefix(200))") }
        }
    }

    func testCorruptMetadataIsAnErrorNotACrash() async throws {
        let contract = try self.contract()
        let server = try XCTUnwrap(self.server)
        let cases: [(String, [String])] = [
            ("garbage", ["HSET", "", "", "not metadata at all"]),
            ("truncated", ["HSET", "", "", "T1 abc 1 10 99999999999999\n\u{01}"]),
            ("bad numbers", ["HSET", "", "", "T1 abc -1 10 99999999999999\nxx"]),
            ("wrong type", ["SET", "", "a string where a hash belongs"]),
        ]
        for (name, command) in cases {
            let key = CacheStoreContract.uniqueKey("corrupt-\(name)")
            var arguments = command
            arguments[1] = RedisCacheStore.variantsKey(key)
            if arguments.count == 4 { arguments[2] = "" }
            _ = try server.cli(arguments)
            do {
                let found = try await contract.variants(key)
                XCTFail("\(name): expected an error, got \(found)")
            } catch let error as CacheStoreError {
                XCTAssertEqual(error.code, .corrupt, "\(name): \(error)")
            }
            // A chunk read of the corrupt entry fails cleanly too.
            do {
                let chunk = try await contract.chunk(0, key)
                XCTAssertNil(chunk, name)
            } catch let error as CacheStoreError {
                XCTAssertTrue([.corrupt, .unavailable].contains(error.code), "\(name): \(error)")
            }
        }
        // Corrupt data does not open the breaker: the store still works.
        let store = try XCTUnwrap(contract.store as? RedisCacheStore)
        XCTAssertFalse(store.breaker.isOpen)
        try await contract.storeAndHit(size: 10)
    }

    func testRedisDownFailsFastAndRecoversByItself() async throws {
        let contract = try self.contract()
        let server = try XCTUnwrap(self.server)
        let store = try XCTUnwrap(contract.store as? RedisCacheStore)
        let key = CacheStoreContract.uniqueKey()
        try await contract.put(key, CacheStoreContract.response(), CacheStoreContract.body(1000))
        let before = try await contract.variants(key)
        XCTAssertEqual(before.count, 1)

        server.stop()
        do {
            _ = try await contract.variants(key)
            XCTFail("a lookup succeeded with Redis down")
        } catch let error as CacheStoreError {
            XCTAssertTrue([.unavailable, .timeout].contains(error.code), "\(error)")
        }
        XCTAssertTrue(store.breaker.isOpen, "the breaker did not open")
        let errors = try self.metrics.expectCounter("tern_cache_store_errors_total", [("store", "redis")])
        XCTAssertGreaterThanOrEqual(errors.totalValue, 1, "the failure was not counted")
        // While open, every operation fails at once without touching Redis.
        do {
            _ = try await contract.acquire(key, "a")
            XCTFail("a lease was acquired with Redis down")
        } catch let error as CacheStoreError {
            XCTAssertEqual(error.code, .unavailable)
            XCTAssertTrue(error.detail.contains("not tried"), error.detail)
        }
        let writer = try await contract.writer(key, CacheStoreContract.response())
        let fed = try await contract.feed(writer, CacheStoreContract.body(300 * 1024))
        XCTAssertFalse(fed, "a writer keeps going with Redis down")
        try await contract.finish(writer)

        // Redis comes back on the same port: caching resumes without anyone doing anything.
        let restarted = try self.startCacheRedis(port: server.port)
        self.server = restarted
        let found = try await self.cacheEventually { try await contract.variants(key) }
        XCTAssertTrue(found.isEmpty, "the new server is empty")
        let stored = try await contract.put(key, CacheStoreContract.response(), CacheStoreContract.body(5000))
        XCTAssertTrue(stored)
        let after = try await contract.variants(key)
        XCTAssertEqual(after.first?.bodyLength, 5000)
        XCTAssertFalse(store.breaker.isOpen)
    }

    func testSlowRedisTimesOut() async throws {
        let contract = try self.contract { $0.timeout = .milliseconds(200) }
        let server = try XCTUnwrap(self.server)
        let key = CacheStoreContract.uniqueKey()
        // DEBUG SLEEP blocks the server for a second, from another connection.
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: try RedisServerProcess.executable("redis-cli"))
        sleeper.arguments = ["-p", "\(server.port)", "DEBUG", "SLEEP", "1"]
        try sleeper.run()
        try await Task.sleep(for: .milliseconds(150))
        do {
            _ = try await contract.variants(key)
            XCTFail("a lookup succeeded while Redis slept")
        } catch let error as CacheStoreError {
            XCTAssertTrue([.timeout, .unavailable].contains(error.code), "\(error)")
        }
        sleeper.waitUntilExit()
        let found = try await self.cacheEventually { try await contract.variants(key) }
        XCTAssertTrue(found.isEmpty)
    }
    func testAReaderKeepsTheGenerationItLookedUp() async throws {
        let contract = try self.contract()
        let key = CacheStoreContract.uniqueKey()
        let old = CacheStoreContract.body(400_000, seed: 1)
        let new = CacheStoreContract.body(400_000, seed: 2)
        try await contract.put(key, CacheStoreContract.response(), old)
        let seenAll = try await contract.variants(key)
        let seen = try XCTUnwrap(seenAll.first)
        let first = try await contract.chunk(0, key, seen)
        // A replacement of the same length commits while the body streams.
        let writer = try await contract.writer(key, CacheStoreContract.response(header: "new"))
        _ = try await contract.feed(writer, new)
        let committed = try await contract.finish(writer)
        XCTAssertTrue(committed)
        var read = try XCTUnwrap(first)
        for index in 1..<seen.chunkCount {
            let next = try await contract.chunk(index, key, seen)
            var chunk = try XCTUnwrap(next)
            read.writeBuffer(&chunk)
        }
        XCTAssertEqual(read, old, "the reader was switched to the new body mid-stream")
        // The next lookup sees the new one.
        let nextAll = try await contract.variants(key)
        let next = try XCTUnwrap(nextAll.first)
        XCTAssertEqual(next.headers["X-Test"], ["new"])
        let (body, _) = try await contract.readBody(key, next)
        XCTAssertEqual(body, new)
    }
}
