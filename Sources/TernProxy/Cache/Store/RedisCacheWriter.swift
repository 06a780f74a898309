import NIOCore
import TernRedis

/// Takes one body into Redis as it streams past the client: each chunk is sent (`SET … PX ttl`)
/// as soon as it fills, so the writer holds at most one partial chunk plus those awaiting their
/// reply. The metadata is committed last (`tern_cache_commit`), so no reader sees a partial
/// entry. It never makes the client wait: when more than `maxUnacknowledgedChunks` are
/// unanswered, or any command fails, it gives up and deletes what it wrote. Runs on `loop`.
final class RedisCacheWriter: CacheWriter {
    private enum State {
        case writing
        case finishing
        case committing
        case committed
        case gaveUp
    }

    private let store: RedisCacheStore
    private let key: CacheKey
    private var response: CachedResponse
    private let ttlMs: Int
    private let loop: any EventLoop
    let generation: String
    private var accumulator: ChunkAccumulator
    private var state = State.writing
    private var length = 0
    /// Chunks sent so far (their keys are 0..<sent).
    private(set) var sent = 0
    private(set) var unacknowledged = 0
    private var drainWaiters: [EventLoopPromise<Void>] = []
    private var outcome: Bool?
    private var outcomeWaiters: [EventLoopPromise<Bool>] = []

    init(store: RedisCacheStore, key: CacheKey, response: CachedResponse, ttl: TimeAmount, loop: any EventLoop) {
        self.store = store
        self.key = key
        self.response = response
        self.ttlMs = RedisCacheStore.milliseconds(ttl)
        self.loop = loop
        self.generation = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        self.accumulator = ChunkAccumulator(chunkSize: store.options.chunkSize)
    }

    func append(_ buffer: ByteBuffer) -> Bool {
        guard case .writing = self.state else { return false }
        guard buffer.readableBytes <= self.store.options.maxObjectSize - self.length else {
            self.giveUp()
            return false
        }
        self.length += buffer.readableBytes
        // Sent after the accumulator is done: a send that fails at once gives up, which resets it.
        var filled: [ByteBuffer] = []
        self.accumulator.append(buffer) { filled.append($0) }
        for chunk in filled { self.send(chunk) }
        if self.unacknowledged > self.store.options.maxUnacknowledgedChunks { self.giveUp() }
        return self.state == .writing
    }

    func finish() {
        guard case .writing = self.state else { return }
        if let rest = self.accumulator.takeRest() { self.send(rest) }
        guard self.state == .writing else { return }
        self.state = .finishing
        if self.unacknowledged == 0 { self.commit() }
    }

    func abandon() {
        self.giveUp()
    }

    /// Completes when no more than the bound of chunks await their reply (at once if so now, or
    /// when the writer stopped): a producer that can wait uses it to stay within the bound.
    func drained() -> EventLoopFuture<Void> {
        self.loop.preconditionInEventLoop()
        if self.unacknowledged < self.store.options.maxUnacknowledgedChunks || self.state != .writing {
            return self.loop.makeSucceededVoidFuture()
        }
        let promise = self.loop.makePromise(of: Void.self)
        self.drainWaiters.append(promise)
        return promise.futureResult
    }

    /// Completes when the variant is visible (true) or the writer gave up (false).
    func whenDone() -> EventLoopFuture<Bool> {
        self.loop.preconditionInEventLoop()
        if let outcome = self.outcome { return self.loop.makeSucceededFuture(outcome) }
        let promise = self.loop.makePromise(of: Bool.self)
        self.outcomeWaiters.append(promise)
        return promise.futureResult
    }

    private func complete(_ stored: Bool) {
        self.outcome = stored
        let waiters = self.outcomeWaiters
        self.outcomeWaiters = []
        for waiter in waiters { waiter.succeed(stored) }
    }

    private func send(_ chunk: ByteBuffer) {
        guard self.state == .writing else { return }
        let chunkKey = RedisCacheStore.chunkKey(self.key, variant: self.response.variantID, generation: self.generation, index: self.sent)
        self.sent += 1
        self.unacknowledged += 1
        let client = self.store.client
        let loop = self.loop
        let ttlMs = self.ttlMs
        self.store.guarded("SET chunk", on: loop) {
            client.set(chunkKey, chunk, expiration: .milliseconds(ttlMs), on: loop)
        }.assumeIsolated().whenComplete { result in
            self.unacknowledged -= 1
            switch result {
            case .success:
                if self.state == .finishing && self.unacknowledged == 0 { self.commit() }
            case .failure:
                self.giveUp()
            }
            self.wakeDrainWaiters()
        }
    }

    private func wakeDrainWaiters() {
        guard !self.drainWaiters.isEmpty,
            self.unacknowledged < self.store.options.maxUnacknowledgedChunks || self.state != .writing
        else { return }
        let waiters = self.drainWaiters
        self.drainWaiters = []
        for waiter in waiters { waiter.succeed() }
    }

    private func commit() {
        self.state = .committing
        self.response.bodyLength = self.length
        self.response.chunkCount = self.sent
        let ttlMs = self.ttlMs
        let prefix = CachedResponseCodec.Prefix(
            generation: self.generation, chunkCount: self.sent, bodyLength: self.length,
            expiresAtMs: RedisCacheStore.nowMs() + Int64(ttlMs)
        )
        let metadata = CachedResponseCodec.encode(self.response, prefix: prefix)
        let client = self.store.client
        let key = self.key
        let variant = self.response.variantID
        let loop = self.loop
        self.store.guarded("tern_cache_commit", on: loop) {
            client.fcall(
                "tern_cache_commit", keys: [RedisCacheStore.variantsKey(key)],
                arguments: [.string(variant), .bytes(metadata), .integer(ttlMs), .string(RedisCacheStore.chunkPrefix(key))],
                on: loop
            )
        }.assumeIsolated().whenComplete { result in
            if case .success(let reply) = result, reply.int == 1 {
                self.state = .committed
                self.complete(true)
            } else {
                self.state = .writing
                self.giveUp()
            }
        }
    }

    private func giveUp() {
        switch self.state {
        case .gaveUp, .committed, .committing: return
        case .writing, .finishing: break
        }
        self.state = .gaveUp
        self.accumulator.reset()
        self.wakeDrainWaiters()
        self.complete(false)
        guard self.sent > 0 else { return }
        var keys: [String] = []
        keys.reserveCapacity(self.sent)
        for index in 0..<self.sent {
            keys.append(RedisCacheStore.chunkKey(self.key, variant: self.response.variantID, generation: self.generation, index: index))
        }
        let client = self.store.client
        let loop = self.loop
        // Best effort: what is not deleted expires with its TTL.
        _ = self.store.guarded("DEL chunks", on: loop) { client.del(keys, on: loop) }
    }
}

/// A writer whose store acknowledges asynchronously: a producer that can wait (a test, a
/// background fill) uses it to stay within the writer's bound and to learn the outcome.
protocol AcknowledgedCacheWriter: CacheWriter {
    /// Completes when the writer takes more without giving up for being too far behind.
    func drained() -> EventLoopFuture<Void>
    /// Completes after `finish()` or giving up: whether the variant is stored.
    func whenDone() -> EventLoopFuture<Bool>
}

extension RedisCacheWriter: AcknowledgedCacheWriter {}
