import Foundation
import Logging
import Metrics
import NIOCore
import TernRedis

/// Cached responses in Redis (standalone or Cluster), shared by every proxy using that Redis.
///
/// Key layout, every key of one entry carrying its hash as a `{hash tag}` (one entry, one slot):
/// - `tern:{h}:v` — a hash, variant ID → metadata (`CachedResponseCodec`);
/// - `tern:{h}:b:<variant>:<generation>:<n>` — body chunk n; a new generation per write, so a
///   replacement being written never mixes with the variant being read. A chunk read names the
///   generation it looked up (`CachedResponse.generation`): a replaced generation stays readable
///   for 30 s (`tern_cache_commit`), then reads nil;
/// - `tern:{h}:lease` — the fill lease (`SET NX PX`).
///
/// Multi-key updates are Lua functions of `tern.lua` (`tern_cache_commit`, `_update`, `_purge`,
/// `tern_lease_release`); a chunk read is a plain `GET`. Every operation is bounded by `options.timeout` and goes
/// through a `RedisCircuitBreaker`; failures are `CacheStoreError`s (`.unavailable`, `.timeout`,
/// `.corrupt`), never a crash, and the proxy serves them as misses.
final class RedisCacheStore: CacheStore {
    struct Options: Sendable {
        /// Bodies longer than this are not stored.
        var maxObjectSize = 64 * 1024 * 1024
        /// Bytes per body chunk (one Redis string each).
        var chunkSize = 128 * 1024
        /// The bound on every operation.
        var timeout: TimeAmount = .milliseconds(250)
        /// A writer with more chunks than this sent but not acknowledged gives up.
        var maxUnacknowledgedChunks = 4
        /// The circuit breaker's fail-fast period after a failure, doubling up to the maximum.
        var breakerBaseDelay: TimeAmount = .seconds(1)
        var breakerMaxDelay: TimeAmount = .seconds(10)

        init() {}
    }

    /// A variant (with its generation) and the wall-clock time it expires at in Redis.
    struct StoredVariant: Sendable {
        var response: CachedResponse
        var expiresAtMs: Int64
    }

    let client: RedisClient
    let options: Options
    let breaker: RedisCircuitBreaker
    let logger: Logger
    private let ownsClient: Bool
    /// One per loop of the client's group: the timeouts of that loop's operations.
    private let deadlines: [ObjectIdentifier: OperationDeadlines]

    /// A store over `client`; with `ownsClient` its `shutdown()` shuts the client down too.
    init(
        client: RedisClient,
        options: Options = Options(),
        logger: Logger,
        ownsClient: Bool = false,
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        precondition(options.chunkSize > 0 && options.maxObjectSize > 0 && options.maxUnacknowledgedChunks > 0)
        self.client = client
        self.options = options
        self.logger = logger
        self.ownsClient = ownsClient
        self.breaker = RedisCircuitBreaker(
            baseDelay: options.breakerBaseDelay, maxDelay: options.breakerMaxDelay, logger: logger, metricsFactory: metricsFactory
        )
        var deadlines: [ObjectIdentifier: OperationDeadlines] = [:]
        for loop in client.eventLoopGroup.makeIterator() {
            deadlines[ObjectIdentifier(loop)] = OperationDeadlines(loop: loop, timeout: options.timeout)
        }
        self.deadlines = deadlines
    }

    // MARK: Keys

    static func variantsKey(_ key: CacheKey) -> String { "tern:{\(key.hash)}:v" }
    static func chunkPrefix(_ key: CacheKey) -> String { "tern:{\(key.hash)}:b:" }
    static func chunkKey(_ key: CacheKey, variant: String, generation: String, index: Int) -> String {
        "tern:{\(key.hash)}:b:\(variant):\(generation):\(index)"
    }
    static func leaseKey(_ key: CacheKey) -> String { "tern:{\(key.hash)}:lease" }

    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    static func milliseconds(_ ttl: TimeAmount) -> Int { max(1, Int(ttl.nanoseconds / 1_000_000)) }

    // MARK: CacheStore

    func variants(of key: CacheKey, on loop: any EventLoop) -> EventLoopFuture<[CachedResponse]> {
        self.storedVariants(of: key, on: loop).map { $0.map(\.response) }
    }

    /// The live variants with their expiry; fails with `.corrupt` if any stored metadata is malformed.
    func storedVariants(of key: CacheKey, on loop: any EventLoop) -> EventLoopFuture<[StoredVariant]> {
        let client = self.client
        let breaker = self.breaker
        return self.guarded("lookup", on: loop) {
            client.fcall("tern_cache_lookup", keys: [Self.variantsKey(key)], arguments: [.string(Self.chunkPrefix(key))], on: loop)
        }.flatMapThrowing { reply in
            // {HGETALL's fields, chunk 0 of the only variant or nil}
            guard case .array(let parts) = reply, parts.count == 2, let pairs = parts[0].pairs else {
                let error = CacheStoreError(code: .corrupt, detail: "tern_cache_lookup answered \(reply)")
                breaker.failed(error, outage: false)
                throw error
            }
            let firstChunk = parts[1].bytes
            let now = Self.nowMs()
            var result: [StoredVariant] = []
            result.reserveCapacity(pairs.count)
            for (fieldValue, metadata) in pairs {
                do throws(CacheStoreError) {
                    guard let field = fieldValue.string, let value = metadata.bytes else {
                        throw CacheStoreError(code: .corrupt, detail: "stored metadata: not a string")
                    }
                    var (response, prefix) = try CachedResponseCodec.decode(value)
                    guard response.variantID == field else {
                        throw CacheStoreError(code: .corrupt, detail: "stored metadata: variant \(response.variantID) under field \(field)")
                    }
                    if pairs.count == 1, response.chunkCount > 0 { response.firstChunk = firstChunk }
                    if prefix.expiresAtMs > now {
                        result.append(StoredVariant(response: response, expiresAtMs: prefix.expiresAtMs))
                    }
                } catch {
                    var error = error
                    error.detail += " (\(Self.variantsKey(key)))"
                    breaker.failed(error, outage: false)
                    throw error
                }
            }
            return result
        }
    }

    /// One GET of the chunk key of `variant.generation`: no other generation's key is ever read.
    func chunk(_ index: Int, of key: CacheKey, variant: CachedResponse, on loop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        // Not from a lookup: no body of this store has it.
        guard !variant.generation.isEmpty, index >= 0 else { return loop.makeSucceededFuture(nil) }
        // The lookup brought it along, read in the same atomic step as the metadata.
        if index == 0, let first = variant.firstChunk { return loop.makeSucceededFuture(first) }
        let client = self.client
        let chunkKey = Self.chunkKey(key, variant: variant.variantID, generation: variant.generation, index: index)
        return self.guarded("GET chunk", on: loop) { client.get(chunkKey, on: loop) }
    }

    func writer(for key: CacheKey, response: CachedResponse, ttl: TimeAmount, on loop: any EventLoop) -> any CacheWriter {
        RedisCacheWriter(store: self, key: key, response: response, ttl: ttl, loop: loop)
    }

    func update(_ key: CacheKey, response: CachedResponse, ttl: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let client = self.client
        let fields = CachedResponseCodec.encodeFields(response)
        let milliseconds = Self.milliseconds(ttl)
        let expires = Self.nowMs() + Int64(milliseconds)
        return self.guarded("tern_cache_update", on: loop) {
            client.fcall(
                "tern_cache_update", keys: [Self.variantsKey(key)],
                arguments: [
                    .string(response.variantID), .bytes(fields), .integer(milliseconds), .string(Self.chunkPrefix(key)),
                    .string(String(expires)),
                ],
                on: loop
            )
        }.map { _ in }
    }

    func purge(_ key: CacheKey, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        let client = self.client
        return self.guarded("tern_cache_purge", on: loop) {
            client.fcall("tern_cache_purge", keys: [Self.variantsKey(key)], arguments: [.string(Self.chunkPrefix(key))], on: loop)
        }.map { ($0.int ?? 0) > 0 }
    }

    func acquireLease(_ key: CacheKey, holder: String, ttl: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        let client = self.client
        return self.guarded("SET NX lease", on: loop) {
            client.set(
                Self.leaseKey(key), holder, expiration: .milliseconds(Self.milliseconds(ttl)), condition: .ifNotExists, on: loop
            )
        }
    }

    func releaseLease(_ key: CacheKey, holder: String, on loop: any EventLoop) {
        let client = self.client
        _ = self.guarded("tern_lease_release", on: loop) {
            client.fcall("tern_lease_release", keys: [Self.leaseKey(key)], arguments: [.string(holder)], on: loop)
        }
    }

    func shutdown() async {
        if self.ownsClient { try? await self.client.shutdown() }
    }

    // MARK: Bounding every operation

    /// Runs one Redis operation unless the breaker is open, failing it with `.timeout` if Redis
    /// does not answer within `options.timeout`. Completes on `loop`.
    func guarded<T: Sendable>(
        _ operation: String,
        on loop: any EventLoop,
        _ body: () -> EventLoopFuture<T>
    ) -> EventLoopFuture<T> {
        let breaker = self.breaker
        if case .reject(let reason) = breaker.admit() {
            return loop.makeFailedFuture(
                CacheStoreError(code: .unavailable, detail: "redis failing, not tried for a while (\(operation)); last: \(reason)")
            )
        }
        let promise = loop.makePromise(of: T.self)
        let timeout = self.options.timeout
        let onTimeout: @Sendable () -> Void = {
            let error = CacheStoreError(code: .timeout, detail: "redis did not answer \(operation) within \(timeout.nanoseconds / 1_000_000) ms")
            breaker.failed(error, outage: true)
            promise.fail(error)
        }
        let finish: @Sendable () -> Bool
        if loop.inEventLoop, let deadlines = self.deadlines[ObjectIdentifier(loop)] {
            // The loop's one timer (the proxy's case: every call comes from a connection's loop).
            let bounded = deadlines.start(onTimeout: onTimeout)
            finish = { bounded.finish() }
        } else {
            let once = Once()
            let timer = loop.scheduleTask(in: timeout) {
                guard once.take() else { return }
                onTimeout()
            }
            finish = {
                guard once.take() else { return false }
                timer.cancel()
                return true
            }
        }
        body().hop(to: loop).whenComplete { result in
            guard finish() else { return }
            switch result {
            case .success(let value):
                breaker.succeeded()
                promise.succeed(value)
            case .failure(let error):
                let (storeError, outage) = Self.storeError(error, operation: operation)
                if outage { breaker.failed(storeError, outage: true) } else { breaker.succeeded(); breaker.failed(storeError, outage: false) }
                promise.fail(storeError)
            }
        }
        return promise.futureResult
    }

    /// A Redis failure as a store error, and whether it means Redis is out (opening the breaker)
    /// rather than bad data.
    static func storeError(_ error: any Error, operation: String) -> (CacheStoreError, outage: Bool) {
        if let error = error as? CacheStoreError { return (error, error.code != .corrupt) }
        guard let error = error as? RedisError else {
            return (CacheStoreError(code: .unavailable, detail: "redis \(operation): \(error)"), true)
        }
        if error.code == .timeout {
            return (CacheStoreError(code: .timeout, detail: "\(operation): \(error)"), true)
        }
        if error.code == .unexpectedReply || (error.code == .server && error.message?.contains("corrupt metadata") == true)
            || (error.code == .server && error.message?.contains("WRONGTYPE") == true)
        {
            return (CacheStoreError(code: .corrupt, detail: "\(operation): \(error)"), false)
        }
        return (CacheStoreError(code: .unavailable, detail: "\(operation): \(error)"), true)
    }
}

/// True the first time only: whichever of the reply and the timer comes first completes the
/// promise. Touched only on one event loop.
private final class Once: @unchecked Sendable {
    private var taken = false
    func take() -> Bool {
        if self.taken { return false }
        self.taken = true
        return true
    }
}
