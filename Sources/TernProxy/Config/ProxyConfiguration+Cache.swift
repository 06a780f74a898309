import NIOCore

extension ProxyConfiguration {
    /// The top-level `cache` line and its companions: where responses are stored, and how.
    public struct Cache: Sendable, Equatable {
        public enum Store: Sendable, Equatable {
            /// `cache memory 256m`: this process only.
            case memory(capacity: Int)
            /// `cache redis://host:port/db`: shared by every proxy that names it, with a memory tier in front.
            case redis(url: String)
            /// `cache redis-cluster://host1:port1,host2:port2`
            case redisCluster(urls: [String])
        }

        public var store: Store
        /// The memory tier in front of Redis (`cache redis://… memory-tier=64m`; 0 turns it off).
        public var memoryTier = 64 << 20
        /// `cache-max-object 64m`: larger responses are passed through, not stored.
        public var maxObjectSize = 64 << 20
        /// `cache-lock-timeout 5s`: how long concurrent misses for one URL wait for the first to fill it
        /// (nginx's `proxy_cache_lock_timeout`); after that they go to the upstream themselves.
        public var lockTimeout: Duration = .seconds(5)
        /// `cache-store-timeout 250ms`: the longest a request waits for Redis before it is a miss.
        public var storeTimeout: Duration = .milliseconds(250)
        /// How long a stale response with a validator is kept to be revalidated (`cache-keep-stale 1h`).
        public var keepStale: Duration = .seconds(3600)
        public var location: SourceLocation

        public init(store: Store, location: SourceLocation) {
            self.store = store
            self.location = location
        }
    }
}

extension Array where Element == AddressRange {
    /// An allow list's verdict: Unix-socket peers (no IP address) are local and always allowed.
    func allows(_ address: SocketAddress?) -> Bool {
        guard let address, address.addressBytes != nil else { return true }
        return self.contains { $0.contains(address) }
    }
}
