import Logging
import NIOCore
import NIOPosix
import TernTestSupport
import XCTest

@testable import TernProxy

/// `CacheStoreFactory`: the store each spec names, and readable errors for bad values.
final class CacheStoreFactoryTests: XCTestCase {
    private func group() -> MultiThreadedEventLoopGroup {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        addTeardownBlock { try? await group.shutdownGracefully() }
        return group
    }

    func testMemory() throws {
        let store = try CacheStoreFactory.make(.memory(capacity: 1 << 20, maxObjectSize: 1000), eventLoopGroup: self.group(), logger: Logger(label: "test"))
        let memory = try XCTUnwrap(store as? MemoryCacheStore)
        XCTAssertEqual(memory.capacity, 1 << 20)
        XCTAssertEqual(memory.maxObjectSize, 1000)
    }

    func testRedisWithAndWithoutAMemoryTier() async throws {
        let server = try self.startCacheRedis()
        let group = self.group()
        let plain = try CacheStoreFactory.make(
            .redis(url: server.url + "/3", memoryTier: 0, maxObjectSize: 5000, timeout: .milliseconds(300)),
            eventLoopGroup: group, logger: Logger(label: "test")
        )
        let redis = try XCTUnwrap(plain as? RedisCacheStore)
        XCTAssertEqual(redis.options.maxObjectSize, 5000)
        XCTAssertEqual(redis.options.timeout, .milliseconds(300))
        XCTAssertEqual(redis.client.configuration.database, 3)
        let tiered = try CacheStoreFactory.make(
            .redis(url: server.url, memoryTier: 1 << 20, maxObjectSize: 5000, timeout: .milliseconds(300)),
            eventLoopGroup: group, logger: Logger(label: "test")
        )
        let tier = try XCTUnwrap(tiered as? TieredCacheStore)
        XCTAssertEqual(tier.memoryTier.capacity, 1 << 20)
        // The store works, on database 3.
        let contract = CacheStoreContract(store: plain, loop: group.next(), maxChunkSize: nil, maxObjectSize: 5000)
        let key = CacheStoreContract.uniqueKey()
        try await contract.put(key, CacheStoreContract.response(), CacheStoreContract.body(100))
        XCTAssertEqual(try server.cli(["-n", "3", "EXISTS", RedisCacheStore.variantsKey(key)]).trimmingCharacters(in: .whitespacesAndNewlines), "1")
        await tiered.shutdown()
        await plain.shutdown()
    }

    func testBadValuesSayWhatIsWrong() {
        let group = self.group()
        let cases: [(CacheStoreSpec, String)] = [
            (.memory(capacity: 0, maxObjectSize: 10), "capacity must be positive"),
            (.memory(capacity: 10, maxObjectSize: -1), "maximum object size must be positive"),
            (.redis(url: "http://127.0.0.1:6379", memoryTier: 0, maxObjectSize: 10, timeout: .seconds(1)), "cache redis URL \"http://127.0.0.1:6379\""),
            (.redis(url: "redis://127.0.0.1:notaport", memoryTier: 0, maxObjectSize: 10, timeout: .seconds(1)), "notaport"),
            (.redis(url: "redis://127.0.0.1:6379", memoryTier: -1, maxObjectSize: 10, timeout: .seconds(1)), "memory tier"),
            (.redis(url: "redis://127.0.0.1:6379", memoryTier: 0, maxObjectSize: 10, timeout: .zero), "timeout must be positive"),
            (.redisCluster(urls: [], memoryTier: 0, maxObjectSize: 10, timeout: .seconds(1)), "no node URL"),
            (.redisCluster(urls: ["redis://a:1", "redis://b:x"], memoryTier: 0, maxObjectSize: 10, timeout: .seconds(1)), "redis://b:x"),
            (.redisCluster(urls: ["redis://a:1/2"], memoryTier: 0, maxObjectSize: 10, timeout: .seconds(1)), "database 0"),
        ]
        for (spec, expected) in cases {
            XCTAssertThrowsError(try CacheStoreFactory.make(spec, eventLoopGroup: group, logger: Logger(label: "test")), "\(spec)") { error in
                XCTAssertTrue(error is CacheStoreConfigurationError, "\(error)")
                XCTAssertTrue("\(error)".contains(expected), "\"\(error)\" does not say \(expected)")
            }
        }
    }
}
