import NIOCore
import Synchronization

/// `rate-limit 10r/s burst=20`: a token bucket per client address (nginx's `limit_req`). Each
/// address may send `burst` requests at once and `rate` a second after that; a request with no
/// token left is answered 429 with `Retry-After`. One limiter serves a listener across all its
/// event loops, behind one lock taken once per request (only when the limit is configured).
///
/// Not shared between processes: a Redis-backed bucket (for several tern processes behind one
/// address) is not built.
final class RateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var updated: UInt64
    }

    let rate: Double
    let burst: Double
    /// Addresses remembered at most; past it, full buckets are forgotten.
    let capacity: Int
    private let buckets: Mutex<[String: Bucket]>

    init(_ limit: ProxyConfiguration.RateLimit, capacity: Int = 100_000) {
        self.rate = limit.requestsPerSecond
        self.burst = Double(limit.burst)
        self.capacity = capacity
        self.buckets = Mutex([:])
    }

    /// Addresses remembered now.
    var count: Int { self.buckets.withLock { $0.count } }

    /// nil: admitted (one token spent). Otherwise the whole seconds to wait before a token is back.
    func admit(_ client: String, now: UInt64 = NIODeadline.now().uptimeNanoseconds) -> Int? {
        self.buckets.withLock { buckets in
            var bucket = buckets[client] ?? Bucket(tokens: self.burst, updated: now)
            let elapsed = Double(now &- bucket.updated) / 1e9
            bucket.tokens = min(self.burst, bucket.tokens + max(0, elapsed) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                if buckets[client] == nil && buckets.count >= self.capacity { Self.forgetFull(&buckets, now: now, rate: self.rate, burst: self.burst) }
                buckets[client] = bucket
                return nil
            }
            buckets[client] = bucket
            return max(1, Int(((1 - bucket.tokens) / self.rate).rounded(.up)))
        }
    }

    /// Drops the buckets that have refilled (they are the same as no bucket); if none has, the
    /// oldest half.
    private static func forgetFull(_ buckets: inout [String: Bucket], now: UInt64, rate: Double, burst: Double) {
        let before = buckets.count
        buckets = buckets.filter { _, bucket in bucket.tokens + Double(now &- bucket.updated) / 1e9 * rate < burst }
        if buckets.count > before / 2 {
            let sorted = buckets.sorted { $0.value.updated < $1.value.updated }
            for (key, _) in sorted.prefix(buckets.count / 2) { buckets[key] = nil }
        }
    }
}

/// `max-connections`: the connections one listener holds open at once. Sits in the listening
/// channel's pipeline and sees each accepted connection before it is set up; past the limit the
/// connection is closed at once, and a warning is logged at most once a second.
final class ConnectionLimiter: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    let limit: Int
    private let open = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let lastWarning = Atomic<UInt64>(0)
    private let warn: @Sendable (_ refused: Int) -> Void

    init(limit: Int, warn: @escaping @Sendable (_ refused: Int) -> Void) {
        self.limit = limit
        self.warn = warn
    }

    var openConnections: Int { self.open.load(ordering: .relaxed) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = self.unwrapInboundIn(data)
        let count = self.open.add(1, ordering: .relaxed).newValue
        if count > self.limit {
            self.open.subtract(1, ordering: .relaxed)
            let refused = self.refused.add(1, ordering: .relaxed).newValue
            child.close(promise: nil)
            let now = NIODeadline.now().uptimeNanoseconds
            let last = self.lastWarning.load(ordering: .relaxed)
            if now &- last >= 1_000_000_000 || last == 0,
                self.lastWarning.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
            {
                self.warn(refused)
            }
            return
        }
        child.closeFuture.whenComplete { [self] _ in self.open.subtract(1, ordering: .relaxed) }
        context.fireChannelRead(data)
    }
}
