import Logging
import NIOCore
import TernRedis

/// Which cache store proxy.conf asks for.
enum CacheStoreSpec: Equatable, Sendable {
    /// `capacity` bytes in this process.
    case memory(capacity: Int, maxObjectSize: Int)
    /// One Redis server (`redis://`, `rediss://`, `unix://`); `memoryTier` bytes of memory in
    /// front of it (0: none); `timeout` bounds every Redis operation.
    case redis(url: String, memoryTier: Int, maxObjectSize: Int, timeout: TimeAmount)
    /// A Redis Cluster, from the URLs of some of its nodes.
    case redisCluster(urls: [String], memoryTier: Int, maxObjectSize: Int, timeout: TimeAmount)
}

/// A cache store that cannot be built from its spec: says which value is wrong and why.
struct CacheStoreConfigurationError: Error, CustomStringConvertible, Equatable {
    var description: String
}

enum CacheStoreFactory {
    /// Builds the store `spec` names on `eventLoopGroup` (the proxy's loops). A Redis store owns
    /// its client: `shutdown()` closes it. Throws `CacheStoreConfigurationError` for bad values.
    static func make(_ spec: CacheStoreSpec, eventLoopGroup: any EventLoopGroup, logger: Logger) throws -> any CacheStore {
        switch spec {
        case .memory(let capacity, let maxObjectSize):
            try self.checkSizes(capacity: capacity, maxObjectSize: maxObjectSize, what: "cache memory")
            return MemoryCacheStore(capacity: capacity, maxObjectSize: maxObjectSize)

        case .redis(let url, let memoryTier, let maxObjectSize, let timeout):
            let configuration: RedisConfiguration
            do {
                configuration = try RedisConfiguration(url: url)
            } catch {
                throw CacheStoreConfigurationError(description: "cache redis URL \"\(url)\": \(error.message ?? "\(error)")")
            }
            return try self.makeRedis(configuration, memoryTier: memoryTier, maxObjectSize: maxObjectSize, timeout: timeout, eventLoopGroup: eventLoopGroup, logger: logger, what: "cache redis")

        case .redisCluster(let urls, let memoryTier, let maxObjectSize, let timeout):
            guard !urls.isEmpty else {
                throw CacheStoreConfigurationError(description: "cache redis-cluster: no node URL")
            }
            for url in urls {
                do {
                    _ = try RedisConfiguration(url: url)
                } catch {
                    throw CacheStoreConfigurationError(description: "cache redis-cluster node URL \"\(url)\": \(error.message ?? "\(error)")")
                }
            }
            let configuration: RedisConfiguration
            do {
                configuration = try RedisConfiguration(clusterURLs: urls)
            } catch {
                throw CacheStoreConfigurationError(description: "cache redis-cluster: \(error.message ?? "\(error)")")
            }
            return try self.makeRedis(configuration, memoryTier: memoryTier, maxObjectSize: maxObjectSize, timeout: timeout, eventLoopGroup: eventLoopGroup, logger: logger, what: "cache redis-cluster")
        }
    }

    private static func makeRedis(
        _ configuration: RedisConfiguration,
        memoryTier: Int,
        maxObjectSize: Int,
        timeout: TimeAmount,
        eventLoopGroup: any EventLoopGroup,
        logger: Logger,
        what: String
    ) throws -> any CacheStore {
        guard memoryTier >= 0 else {
            throw CacheStoreConfigurationError(description: "\(what): the memory tier size must not be negative (got \(memoryTier))")
        }
        guard maxObjectSize > 0 else {
            throw CacheStoreConfigurationError(description: "\(what): the maximum object size must be positive (got \(maxObjectSize))")
        }
        guard timeout > .zero else {
            throw CacheStoreConfigurationError(description: "\(what): the timeout must be positive")
        }
        var configuration = configuration
        configuration.commandTimeout = timeout
        configuration.connectTimeout = max(timeout, .milliseconds(100))
        configuration.reconnectMaxDelay = .seconds(1)
        configuration.logger = logger
        let client: RedisClient
        do {
            client = try RedisClient(configuration: configuration, eventLoopGroup: eventLoopGroup)
        } catch {
            throw CacheStoreConfigurationError(description: "\(what): \(error.message ?? "\(error)")")
        }
        var options = RedisCacheStore.Options()
        options.maxObjectSize = maxObjectSize
        options.timeout = timeout
        let redis = RedisCacheStore(client: client, options: options, logger: logger, ownsClient: true)
        guard memoryTier > 0 else { return redis }
        return TieredCacheStore(redis: redis, memoryCapacity: memoryTier, logger: logger)
    }

    private static func checkSizes(capacity: Int, maxObjectSize: Int, what: String) throws {
        guard capacity > 0 else {
            throw CacheStoreConfigurationError(description: "\(what): the capacity must be positive (got \(capacity))")
        }
        guard maxObjectSize > 0 else {
            throw CacheStoreConfigurationError(description: "\(what): the maximum object size must be positive (got \(maxObjectSize))")
        }
    }
}
