import CoreMetrics
import NIOCore
import NIOHTTP1
import NIOPosix
import TernRedis
import TernTestSupport
import XCTest

@testable import TernProxy

/// The suite every `CacheStore` must pass: each test class (memory, Redis, tiered, cluster)
/// builds its store and calls these, one test method per case. Every call is made on `loop`, as
/// the proxy makes it.
struct CacheStoreContract {
    let store: any CacheStore
    let loop: any EventLoop
    /// The largest chunk the store may hand back, when it promises one.
    var maxChunkSize: Int?
    /// The store's maximum object size.
    var maxObjectSize: Int
    /// Waits until background work a lookup of the key started is done (a tier's promotion into
    /// memory), where a case needs the store quiet.
    var settle: (@Sendable (CacheKey) async throws -> Void)? = nil

    // MARK: Helpers

    static func response(_ variant: String = "", status: UInt = 200, header: String = "a") -> CachedResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "X-Test", value: header)
        return CachedResponse(
            variantID: variant, status: status, headers: headers,
            varyValues: variant.isEmpty ? [] : [VaryValue(name: "accept-language", value: variant), VaryValue(name: "x-none", value: nil)],
            requestTime: 1_700_000_000, responseTime: 1_700_000_001
        )
    }

    /// `size` bytes of a pattern that depends on `seed` and does not repeat at chunk boundaries.
    static func body(_ size: Int, seed: UInt8 = 7) -> ByteBuffer {
        var pattern: [UInt8] = []
        pattern.reserveCapacity(4099)
        var value = seed
        for _ in 0..<4099 {
            pattern.append(value)
            value = value &* 31 &+ 17
        }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size)
        var left = size
        while left > 0 {
            let take = min(left, pattern.count)
            buffer.writeBytes(pattern[0..<take])
            left -= take
        }
        return buffer
    }

    static func uniqueKey(_ name: String = #function) -> CacheKey {
        CacheKey(scheme: "http", host: "Example.COM", target: "/\(name)/\(UInt64.random(in: 0...UInt64.max))")
    }

    func variants(_ key: CacheKey) async throws -> [CachedResponse] {
        let store = self.store
        let loop = self.loop
        return try await loop.flatSubmit { store.variants(of: key, on: loop) }.get()
    }

    /// Chunk `index` of `variant` as looked up (a response not from the store by default).
    func chunk(_ index: Int, _ key: CacheKey, _ variant: CachedResponse = CacheStoreContract.response()) async throws -> ByteBuffer? {
        let store = self.store
        let loop = self.loop
        return try await loop.flatSubmit { store.chunk(index, of: key, variant: variant, on: loop) }.get()
    }

    /// A writer, on the loop.
    func writer(_ key: CacheKey, _ response: CachedResponse, ttl: TimeAmount = .seconds(60)) async throws -> NIOLoopBound<any CacheWriter> {
        let store = self.store
        let loop = self.loop
        return try await loop.submit { NIOLoopBound(store.writer(for: key, response: response, ttl: ttl, on: loop), eventLoop: loop) }.get()
    }

    /// Feeds `body` in parts of `partSize`, waiting for an acknowledging writer to catch up;
    /// whether every part was taken.
    func feed(_ writer: NIOLoopBound<any CacheWriter>, _ body: ByteBuffer, partSize: Int = 16 * 1024) async throws -> Bool {
        let loop = self.loop
        var rest = body
        while rest.readableBytes > 0 {
            let part = rest.readSlice(length: min(partSize, rest.readableBytes))!
            let taken = try await loop.submit { writer.value.append(part) }.get()
            guard taken else { return false }
            try await loop.flatSubmit { () -> EventLoopFuture<Void> in
                (writer.value as? any AcknowledgedCacheWriter)?.drained() ?? loop.makeSucceededVoidFuture()
            }.get()
        }
        return true
    }

    /// Finishes and waits until the store has it (or gave up): whether it is stored, as far as
    /// the writer knows.
    @discardableResult
    func finish(_ writer: NIOLoopBound<any CacheWriter>) async throws -> Bool {
        let loop = self.loop
        return try await loop.flatSubmit { () -> EventLoopFuture<Bool> in
            writer.value.finish()
            return (writer.value as? any AcknowledgedCacheWriter)?.whenDone() ?? loop.makeSucceededFuture(true)
        }.get()
    }

    func abandon(_ writer: NIOLoopBound<any CacheWriter>) async throws {
        try await self.loop.submit { writer.value.abandon() }.get()
    }

    @discardableResult
    func put(_ key: CacheKey, _ response: CachedResponse, _ body: ByteBuffer, ttl: TimeAmount = .seconds(60)) async throws -> Bool {
        let writer = try await self.writer(key, response, ttl: ttl)
        guard try await self.feed(writer, body) else { return false }
        return try await self.finish(writer)
    }

    /// The whole body of a variant, read chunk by chunk, and the chunk sizes.
    func readBody(_ key: CacheKey, _ response: CachedResponse) async throws -> (ByteBuffer, [Int]) {
        var body = ByteBuffer()
        var sizes: [Int] = []
        for index in 0..<response.chunkCount {
            guard var chunk = try await self.chunk(index, key, response) else {
                XCTFail("chunk \(index) of \(response.chunkCount) is missing")
                break
            }
            sizes.append(chunk.readableBytes)
            body.writeBuffer(&chunk)
        }
        return (body, sizes)
    }

    func purge(_ key: CacheKey) async throws -> Bool {
        let store = self.store
        let loop = self.loop
        return try await loop.flatSubmit { store.purge(key, on: loop) }.get()
    }

    func acquire(_ key: CacheKey, _ holder: String, ttl: TimeAmount = .seconds(10)) async throws -> Bool {
        let store = self.store
        let loop = self.loop
        return try await loop.flatSubmit { store.acquireLease(key, holder: holder, ttl: ttl, on: loop) }.get()
    }

    func release(_ key: CacheKey, _ holder: String) async throws {
        let store = self.store
        let loop = self.loop
        try await loop.submit { store.releaseLease(key, holder: holder, on: loop) }.get()
    }

    func update(_ key: CacheKey, _ response: CachedResponse, ttl: TimeAmount = .seconds(60)) async throws {
        let store = self.store
        let loop = self.loop
        try await loop.flatSubmit { store.update(key, response: response, ttl: ttl, on: loop) }.get()
    }

    // MARK: The cases

    func miss() async throws {
        let found = try await self.variants(Self.uniqueKey())
        XCTAssertTrue(found.isEmpty)
        let chunk = try await self.chunk(0, Self.uniqueKey())
        XCTAssertNil(chunk)
    }

    func storeAndHit(size: Int) async throws {
        let key = Self.uniqueKey("hit-\(size)")
        let body = Self.body(size)
        let stored = try await self.put(key, Self.response(), body)
        XCTAssertTrue(stored)
        let found = try await self.variants(key)
        XCTAssertEqual(found.count, 1)
        guard let hit = found.first else { return }
        XCTAssertEqual(hit.status, 200)
        XCTAssertEqual(hit.headers["X-Test"], ["a"])
        XCTAssertEqual(hit.headers["Content-Type"], ["text/plain"])
        XCTAssertEqual(hit.requestTime, 1_700_000_000)
        XCTAssertEqual(hit.responseTime, 1_700_000_001)
        XCTAssertEqual(hit.bodyLength, size)
        XCTAssertFalse(hit.isPassMarker)
        let (read, sizes) = try await self.readBody(key, hit)
        XCTAssertEqual(read, body, "the stored body differs")
        if size <= 1024 { XCTAssertEqual(hit.chunkCount, 1, "a small body is one chunk") }
        if let maxChunkSize {
            XCTAssertTrue(sizes.allSatisfy { $0 <= maxChunkSize }, "chunks \(sizes.max() ?? 0) > \(maxChunkSize)")
            if size > maxChunkSize { XCTAssertGreaterThan(hit.chunkCount, 1) }
        }
        XCTAssertFalse(hit.generation.isEmpty, "a looked-up response carries its generation")
        let past = try await self.chunk(hit.chunkCount, key, hit)
        XCTAssertNil(past)
    }

    func emptyBodyAndPassMarker() async throws {
        let key = Self.uniqueKey()
        var marker = Self.response()
        marker.isPassMarker = true
        marker.status = 204
        try await self.put(key, marker, ByteBuffer())
        let found = try await self.variants(key)
        XCTAssertEqual(found.count, 1)
        XCTAssertEqual(found.first?.isPassMarker, true)
        XCTAssertEqual(found.first?.bodyLength, 0)
        XCTAssertEqual(found.first?.chunkCount, 0)
        XCTAssertEqual(found.first?.status, 204)
    }

    func variantsUnderOneKey() async throws {
        let key = Self.uniqueKey()
        try await self.put(key, Self.response("en"), Self.body(100, seed: 1))
        try await self.put(key, Self.response("fr"), Self.body(200, seed: 2))
        let found = try await self.variants(key).sorted { $0.variantID < $1.variantID }
        XCTAssertEqual(found.map(\.variantID), ["en", "fr"])
        XCTAssertEqual(found.first?.varyValues, [VaryValue(name: "accept-language", value: "en"), VaryValue(name: "x-none", value: nil)])
        for (response, seed) in zip(found, [1, 2] as [UInt8]) {
            let (body, _) = try await self.readBody(key, response)
            XCTAssertEqual(body, Self.body(response.bodyLength, seed: seed))
        }
        // The same variant again replaces it.
        try await self.put(key, Self.response("en", header: "b"), Self.body(300, seed: 3))
        let again = try await self.variants(key).sorted { $0.variantID < $1.variantID }
        XCTAssertEqual(again.map(\.variantID), ["en", "fr"])
        XCTAssertEqual(again.first?.headers["X-Test"], ["b"])
        XCTAssertEqual(again.first?.bodyLength, 300)
        if let english = again.first {
            let (body, _) = try await self.readBody(key, english)
            XCTAssertEqual(body, Self.body(300, seed: 3))
        }
    }

    func invisibleBeforeFinish() async throws {
        let key = Self.uniqueKey()
        let writer = try await self.writer(key, Self.response())
        let fed = try await self.feed(writer, Self.body(300_000))
        XCTAssertTrue(fed)
        let before = try await self.variants(key)
        XCTAssertTrue(before.isEmpty, "visible before finish")
        try await self.finish(writer)
        let after = try await self.variants(key)
        XCTAssertEqual(after.count, 1)
    }

    func replacementInProgressDoesNotDisturbTheStoredOne() async throws {
        let key = Self.uniqueKey()
        try await self.put(key, Self.response(), Self.body(200_000, seed: 1))
        let writer = try await self.writer(key, Self.response(header: "new"))
        _ = try await self.feed(writer, Self.body(150_000, seed: 2))
        let found = try await self.variants(key)
        XCTAssertEqual(found.first?.headers["X-Test"], ["a"])
        if let old = found.first {
            let (body, _) = try await self.readBody(key, old)
            XCTAssertEqual(body, Self.body(200_000, seed: 1))
        }
        try await self.abandon(writer)
    }

    func abandonLeavesNothing() async throws {
        let key = Self.uniqueKey()
        let writer = try await self.writer(key, Self.response())
        _ = try await self.feed(writer, Self.body(500_000))
        try await self.abandon(writer)
        let taken = try await self.loop.submit { writer.value.append(ByteBuffer(string: "more")) }.get()
        XCTAssertFalse(taken, "an abandoned writer takes no more")
        try await self.finish(writer)
        let found = try await self.variants(key)
        XCTAssertTrue(found.isEmpty)
    }

    func maxObjectSizeStoresNothing() async throws {
        let key = Self.uniqueKey()
        let writer = try await self.writer(key, Self.response())
        let fed = try await self.feed(writer, Self.body(self.maxObjectSize + 1), partSize: 64 * 1024)
        XCTAssertFalse(fed, "append must refuse beyond the maximum object size")
        try await self.finish(writer)
        let found = try await self.variants(key)
        XCTAssertTrue(found.isEmpty)
        // Exactly the maximum is fine.
        let exact = try await self.put(key, Self.response(), Self.body(self.maxObjectSize))
        XCTAssertTrue(exact)
        let stored = try await self.variants(key)
        XCTAssertEqual(stored.first?.bodyLength, self.maxObjectSize)
    }

    func ttlExpiry() async throws {
        let key = Self.uniqueKey()
        try await self.put(key, Self.response(), Self.body(1000), ttl: .milliseconds(300))
        let fresh = try await self.variants(key)
        XCTAssertEqual(fresh.count, 1)
        try await Task.sleep(for: .milliseconds(700))
        let later = try await self.variants(key)
        XCTAssertTrue(later.isEmpty, "still there after its ttl")
    }

    func updateKeepsTheBody() async throws {
        let key = Self.uniqueKey()
        let body = Self.body(70_000)
        try await self.put(key, Self.response(), body, ttl: .seconds(1))
        var revalidated = Self.response(header: "revalidated")
        revalidated.responseTime = 1_800_000_000
        try await self.update(key, revalidated, ttl: .seconds(60))
        let found = try await self.variants(key)
        XCTAssertEqual(found.count, 1)
        guard let hit = found.first else { return }
        XCTAssertEqual(hit.headers["X-Test"], ["revalidated"])
        XCTAssertEqual(hit.responseTime, 1_800_000_000)
        XCTAssertEqual(hit.bodyLength, body.readableBytes)
        let (read, _) = try await self.readBody(key, hit)
        XCTAssertEqual(read, body)
        // The new ttl holds for the body too.
        try await Task.sleep(for: .milliseconds(1300))
        let later = try await self.variants(key)
        XCTAssertEqual(later.count, 1, "the update's ttl was not applied")
        if let hit = later.first {
            let (again, _) = try await self.readBody(key, hit)
            XCTAssertEqual(again, body)
        }
        // Updating what is not stored changes nothing.
        let other = Self.uniqueKey()
        try await self.update(other, revalidated)
        let none = try await self.variants(other)
        XCTAssertTrue(none.isEmpty)
    }

    func purgeRemovesEveryVariant() async throws {
        let key = Self.uniqueKey()
        try await self.put(key, Self.response("en"), Self.body(300_000))
        try await self.put(key, Self.response("de"), Self.body(10))
        let before = try await self.variants(key)
        let english = try XCTUnwrap(before.first { $0.variantID == "en" })
        let purged = try await self.purge(key)
        XCTAssertTrue(purged)
        let found = try await self.variants(key)
        XCTAssertTrue(found.isEmpty)
        let chunk = try await self.chunk(0, key, english)
        XCTAssertNil(chunk)
        let again = try await self.purge(key)
        XCTAssertFalse(again, "nothing left to purge")
    }

    /// A reader names the generation it looked up: after the variant is replaced, reads with the
    /// old response give the old bytes or nil, never the new body's; reads with the new response
    /// give the new body, and nothing once purged (a replaced generation's grace period, where a
    /// store has one, may outlast a purge: its reads still give old bytes or nil).
    func replacedGenerationIsNeverRead() async throws {
        let key = Self.uniqueKey()
        // The same length, several chunks in every store, different bytes in every chunk.
        let oldBody = Self.body(300_000, seed: 1)
        let newBody = Self.body(300_000, seed: 2)
        try await self.put(key, Self.response(), oldBody)
        let oldAll = try await self.variants(key)
        let old = try XCTUnwrap(oldAll.first)
        XCTAssertFalse(old.generation.isEmpty, "a looked-up response carries its generation")
        try await self.settle?(key)
        var oldChunks: [ByteBuffer] = []
        for index in 0..<old.chunkCount {
            let chunk = try await self.chunk(index, key, old)
            oldChunks.append(try XCTUnwrap(chunk, "chunk \(index) before the replacement"))
        }
        XCTAssertGreaterThan(oldChunks.count, 1)

        let replaced = try await self.put(key, Self.response(header: "new"), newBody)
        XCTAssertTrue(replaced)
        let newAll = try await self.variants(key)
        let new = try XCTUnwrap(newAll.first)
        XCTAssertEqual(new.headers["X-Test"], ["new"])
        XCTAssertNotEqual(new.generation, old.generation, "a replacement must get a new generation")
        let newChunks = try await self.readBody(key, new)
        XCTAssertEqual(newChunks.0, newBody)

        try await self.expectOnlyOldBytes(key, old, oldChunks)
        // A response that no store handed out names no stored body.
        var forged = new
        forged.generation = ""
        let none = try await self.chunk(0, key, forged)
        XCTAssertNil(none)

        _ = try await self.purge(key)
        // A chunk the lookup brought along (Redis's first chunk) is the lookup's own snapshot, of
        // the same generation; every read from the store itself finds the purge.
        var lookedUp = new
        if let first = lookedUp.firstChunk {
            XCTAssertEqual(first, newChunks.0.getSlice(at: newChunks.0.readerIndex, length: first.readableBytes))
            lookedUp.firstChunk = nil
        }
        for index in 0..<new.chunkCount {
            let gone = try await self.chunk(index, key, lookedUp)
            XCTAssertNil(gone, "chunk \(index) of a purged generation")
        }
        try await self.expectOnlyOldBytes(key, old, oldChunks)
    }

    /// Every read with `old` gives nil or the chunk it gave before, and nothing past its end.
    private func expectOnlyOldBytes(_ key: CacheKey, _ old: CachedResponse, _ oldChunks: [ByteBuffer]) async throws {
        for index in 0...old.chunkCount {
            guard let chunk = try await self.chunk(index, key, old) else { continue }
            guard index < oldChunks.count else {
                XCTFail("chunk \(index) past the old body's end")
                continue
            }
            XCTAssertEqual(chunk, oldChunks[index], "chunk \(index) read with the old generation is not the old bytes")
        }
    }

    func lease() async throws {
        let key = Self.uniqueKey()
        let first = try await self.acquire(key, "a")
        XCTAssertTrue(first)
        let second = try await self.acquire(key, "b")
        XCTAssertFalse(second, "a held lease was given twice")
        try await self.release(key, "b")
        let stillHeld = try await self.acquire(key, "c")
        XCTAssertFalse(stillHeld, "a non-holder released the lease")
        try await self.release(key, "a")
        let afterRelease = try await self.acquire(key, "b")
        XCTAssertTrue(afterRelease)
        // Expiry frees it too.
        let other = Self.uniqueKey()
        let short = try await self.acquire(other, "a", ttl: .milliseconds(200))
        XCTAssertTrue(short)
        try await Task.sleep(for: .milliseconds(500))
        let afterExpiry = try await self.acquire(other, "b")
        XCTAssertTrue(afterExpiry)
    }
}

extension XCTestCase {
    /// A `redis-server` for this test, killed when it ends.
    func startCacheRedis(port: Int? = nil) throws -> RedisServerProcess {
        let server: RedisServerProcess
        do {
            server = try RedisServerProcess(port: port)
        } catch {
            XCTFail("\(error)")
            throw error
        }
        addTeardownBlock { server.remove() }
        return server
    }

    /// A Redis client on a one-loop group of its own, shut down when the test ends.
    func makeCacheRedisClient(_ configuration: RedisConfiguration) throws -> (RedisClient, any EventLoop) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try RedisClient(configuration: configuration, eventLoopGroup: group)
        addTeardownBlock {
            try? await client.shutdown()
            try? await group.shutdownGracefully()
        }
        return (client, group.next())
    }

    /// A Redis store as the factory makes one (owning its client), on a loop of its own.
    func makeRedisStore(
        _ configuration: RedisConfiguration,
        metrics: (any MetricsFactory)? = nil,
        _ adjust: (inout RedisCacheStore.Options) -> Void = { _ in }
    ) throws -> (RedisCacheStore, any EventLoop) {
        var configuration = configuration
        var options = RedisCacheStore.Options()
        options.maxObjectSize = 6 * 1024 * 1024
        options.breakerBaseDelay = .milliseconds(300)
        options.breakerMaxDelay = .seconds(1)
        adjust(&options)
        configuration.commandTimeout = options.timeout
        configuration.connectTimeout = options.timeout
        configuration.reconnectMaxDelay = .milliseconds(500)
        let (client, loop) = try self.makeCacheRedisClient(configuration)
        let store = RedisCacheStore(client: client, options: options, logger: .init(label: "test.cache"), metricsFactory: metrics)
        return (store, loop)
    }

    /// Retries `body` every 50 ms until it succeeds or `timeout` passes.
    func cacheEventually<T>(timeout: Duration = .seconds(15), _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                return try await body()
            } catch {
                if ContinuousClock.now >= deadline { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}

struct NotYet: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
