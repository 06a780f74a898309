import NIOCore
import NIOHTTP1
import TernClient

/// The primary cache key of RFC 9111 §2: the target URI, independent of the method (a HEAD is
/// answered from a stored GET). `hash` names the entry inside stores; in Redis every key of one
/// entry carries it as a `{hash tag}`, so an entry's metadata and chunks live in one cluster slot.
struct CacheKey: Hashable, Sendable {
    /// `scheme://host/target`, host lowercased, as received.
    let uri: String
    /// 128 bits of FNV-1a over `uri`, as 32 lowercase hex digits.
    let hash: String

    init(scheme: String, host: String, target: String) {
        let lowercaseHost = host.utf8.contains { $0 &- UInt8(ascii: "A") < 26 } ? host.lowercased() : host
        var uri = scheme
        uri.reserveCapacity(scheme.utf8.count + 3 + lowercaseHost.utf8.count + target.utf8.count)
        uri += "://"
        uri += lowercaseHost
        uri += target
        self.init(uri: uri)
    }

    init(uri: String) {
        self.uri = uri
        self.hash = CacheKey.fnv128Hex(uri.utf8)
    }

    static func fnv128Hex(_ bytes: some Sequence<UInt8>) -> String {
        // Two independent 64-bit FNV-1a lanes (different offset bases) make 128 bits.
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x6c62_272e_07bb_0142
        for byte in bytes {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = (b ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = b ^ (b >> 29)
        }
        // 32 hex digits written straight into the string's storage: this runs on every lookup.
        return String(unsafeUninitializedCapacity: 32) { bytes in
            let digits: StaticString = "0123456789abcdef"
            for nibble in 0..<16 {
                let shift = UInt64(60 - 4 * nibble)
                bytes[nibble] = digits.utf8Start[Int((a >> shift) & 0xF)]
                bytes[16 + nibble] = digits.utf8Start[Int((b >> shift) & 0xF)]
            }
            return 32
        }
    }
}

/// One stored response: one variant of a `CacheKey` (RFC 9111 §4.1). Metadata only; the body
/// lives in chunks the store reads back one at a time, by `generation`.
///
/// A value, kept in one reference (copy on write): a hit copies it out of the store, picks it
/// among the key's variants and hands it on, and each copy of the fields themselves would retain
/// and release every string, array and buffer in it.
struct CachedResponse: Sendable {
    /// The secondary key: a hash of `varyValues`, "" when the response has no `Vary`.
    var variantID: String {
        get { self.storage.variantID }
        set { self.unique().variantID = newValue }
    }
    var status: UInt {
        get { self.storage.status }
        set {
            self.unique().status = newValue
            self.storage.updateFreshness()
        }
    }
    /// The response header fields as stored: hop-by-hop fields already removed.
    var headers: HTTPHeaders {
        get { self.storage.headers }
        set {
            let storage = self.unique()
            storage.headers = newValue
            storage.updateFreshness()
            storage.headLines = nil
        }
    }
    /// `headers` written out once (`name: value` CRLF each) by the memory tier when it stores the
    /// response (`keepHeadLines`): a hit copies them into its head at once rather than copying
    /// the fields out of `HTTPHeaders` one by one (a retain and a release each) into a new array.
    /// Nil elsewhere, and once `headers` change.
    var headLines: HTTP1RawFields? { self.storage.headLines }
    /// The request fields the response's `Vary` names: lowercased name, then the request's
    /// normalized value or nil when the request did not send it. In `Vary` order.
    var varyValues: [VaryValue] {
        get { self.storage.varyValues }
        set { self.unique().varyValues = newValue }
    }
    /// RFC 9111 §4.2.3 `request_time` and `response_time`, seconds since the Unix epoch.
    var requestTime: Int64 {
        get { self.storage.requestTime }
        set {
            self.unique().requestTime = newValue
            self.storage.updateFreshness()
        }
    }
    var responseTime: Int64 {
        get { self.storage.responseTime }
        set {
            self.unique().responseTime = newValue
            self.storage.updateFreshness()
        }
    }
    /// Directives, lifetime and initial age, worked out from the fields above once (and again
    /// when they change), so that a hit does not parse `Cache-Control` and dates again.
    var freshness: CachePolicy.Freshness { self.storage.freshness }
    /// Which of the fields a hit adds or replaces the stored ones already have: a hit on a
    /// response without them only appends.
    var has: StoredFields { self.storage.has }
    /// The whole body's length and how many chunks hold it (filled in by the writer).
    var bodyLength: Int {
        get { self.storage.bodyLength }
        set { self.unique().bodyLength = newValue }
    }
    var chunkCount: Int {
        get { self.storage.chunkCount }
        set { self.unique().chunkCount = newValue }
    }
    /// A "hit-for-pass" marker: the last response for this key was not storable, so requests go
    /// straight to the upstream (no coalescing wait) until the marker expires.
    var isPassMarker: Bool {
        get { self.storage.isPassMarker }
        set { self.unique().isPassMarker = newValue }
    }
    /// Which stored body this is: set by the store on the variants it returns, new on every
    /// write (an update after a 304 keeps it, the body being the same). A chunk read names it, so
    /// a reader never gets the bytes of a body that replaced the one it looked up. "" in a
    /// response not (yet) from a store; ignored by writers, which always make a new one.
    var generation: String {
        get { self.storage.generation }
        set { self.unique().generation = newValue }
    }
    /// Chunk 0 of `generation`, when the store's lookup brought it along (Redis, for a key with
    /// one variant): reading it costs no second round trip. Never kept in a store.
    var firstChunk: ByteBuffer? {
        get { self.storage.firstChunk }
        set {
            if newValue == nil && self.storage.firstChunk == nil { return }  // stores clear it: no copy for nothing
            self.unique().firstChunk = newValue
        }
    }

    private var storage: Storage

    init(
        variantID: String = "", status: UInt, headers: HTTPHeaders, varyValues: [VaryValue] = [],
        requestTime: Int64, responseTime: Int64, bodyLength: Int = 0, chunkCount: Int = 0, isPassMarker: Bool = false,
        generation: String = ""
    ) {
        self.storage = Storage(
            variantID: variantID, status: status, headers: headers, varyValues: varyValues, requestTime: requestTime,
            responseTime: responseTime, bodyLength: bodyLength, chunkCount: chunkCount, isPassMarker: isPassMarker,
            generation: generation)
    }

    /// The storage, copied first unless this value is its only owner.
    private mutating func unique() -> Storage {
        if !isKnownUniquelyReferenced(&self.storage) { self.storage = Storage(copying: self.storage) }
        return self.storage
    }

    /// The fields. Written only through `unique()`, that is never while another value shares them,
    /// which is what makes sending them between threads safe.
    private final class Storage: @unchecked Sendable {
        var variantID: String
        var status: UInt
        var headers: HTTPHeaders
        var headLines: HTTP1RawFields?
        var varyValues: [VaryValue]
        var requestTime: Int64
        var responseTime: Int64
        var freshness: CachePolicy.Freshness
        var has: StoredFields
        var bodyLength: Int
        var chunkCount: Int
        var isPassMarker: Bool
        var generation: String
        var firstChunk: ByteBuffer?

        init(
            variantID: String, status: UInt, headers: HTTPHeaders, varyValues: [VaryValue], requestTime: Int64, responseTime: Int64,
            bodyLength: Int, chunkCount: Int, isPassMarker: Bool, generation: String
        ) {
            self.variantID = variantID
            self.status = status
            self.headers = headers
            self.varyValues = varyValues
            self.requestTime = requestTime
            self.responseTime = responseTime
            self.bodyLength = bodyLength
            self.chunkCount = chunkCount
            self.isPassMarker = isPassMarker
            self.generation = generation
            self.freshness = CachePolicy.Freshness(status: status, headers: headers, requestTime: requestTime, responseTime: responseTime)
            self.has = StoredFields(headers)
        }

        init(copying other: Storage) {
            self.variantID = other.variantID
            self.status = other.status
            self.headers = other.headers
            self.headLines = other.headLines
            self.varyValues = other.varyValues
            self.requestTime = other.requestTime
            self.responseTime = other.responseTime
            self.freshness = other.freshness
            self.has = other.has
            self.bodyLength = other.bodyLength
            self.chunkCount = other.chunkCount
            self.isPassMarker = other.isPassMarker
            self.generation = other.generation
            self.firstChunk = other.firstChunk
        }

        func updateFreshness() {
            self.freshness = CachePolicy.Freshness(
                status: self.status, headers: self.headers, requestTime: self.requestTime, responseTime: self.responseTime)
            self.has = StoredFields(self.headers)
        }
    }

    /// Writes `headers` out as `headLines`, in the form the writer copies whole
    /// (`HTTP1Writer.responseHead(_:after:…)`): `name: value` CRLF with values trimmed, and no
    /// `Transfer-Encoding` (a stored response has no hop-by-hop field; the framing is the hit's).
    mutating func keepHeadLines() {
        let lines = self.headers.lazy.filter { !CachePolicy.equalsLowercased($0.name, "transfer-encoding") }
            .map { ($0.name, CachePolicy.trimmed(Substring($0.value))) }
        self.unique().headLines = HTTP1RawFields(writingLines: lines)
    }

    struct StoredFields: Equatable, Sendable {
        var age = false, cacheStatus = false, contentLength = false, via = false

        init(_ headers: HTTPHeaders) {
            for (name, _) in headers {
                switch name.utf8.count {
                case 3:
                    if CachePolicy.equalsLowercased(name, "age") { self.age = true } else if CachePolicy.equalsLowercased(name, "via") { self.via = true }
                case 12:
                    if CachePolicy.equalsLowercased(name, "cache-status") { self.cacheStatus = true }
                case 14:
                    if CachePolicy.equalsLowercased(name, "content-length") { self.contentLength = true }
                default:
                    break
                }
            }
        }
    }
}

struct VaryValue: Hashable, Sendable {
    var name: String
    var value: String?
}

/// Why a store could not answer. The proxy treats every store failure as a miss (DESIGN.md rule
/// 6: the cache never breaks the proxy), logs it and counts it.
struct CacheStoreError: Error, CustomStringConvertible, Sendable {
    enum Code: Sendable { case unavailable, timeout, corrupt, tooLarge }
    var code: Code
    var detail: String
    var description: String { "cache store \(self.code): \(self.detail)" }
}

/// Where cached responses live: in memory, in Redis, or memory in front of Redis. Every method is
/// called on `loop` and completes its future there. One shared test suite runs against every store.
protocol CacheStore: AnyObject, Sendable {
    /// The stored variants of `key`, metadata only, each with its `generation`; empty on a miss.
    func variants(of key: CacheKey, on loop: any EventLoop) -> EventLoopFuture<[CachedResponse]>

    /// Body chunk `index` (0-based) of `variant` as `variants` returned it: of that generation of
    /// its body only. Nil when that generation has gone (replaced and dropped, evicted, expired,
    /// purged) or `index` is past its end; never the bytes of another generation, so a body read
    /// chunk by chunk is either whole and the one looked up, or cut short by a nil.
    func chunk(_ index: Int, of key: CacheKey, variant: CachedResponse, on loop: any EventLoop) -> EventLoopFuture<ByteBuffer?>

    /// Starts storing a response; the writer takes the body as it streams past the client. Nothing
    /// becomes visible to `variants` before `finish()`; a variant with the same `variantID` is
    /// replaced then, under a new generation. `ttl` is how long the store keeps it (freshness plus the stale windows).
    func writer(for key: CacheKey, response: CachedResponse, ttl: TimeAmount, on loop: any EventLoop) -> any CacheWriter

    /// Replaces a variant's headers and times after a 304 (RFC 9111 §4.3.4), keeping its body and
    /// generation (`response.generation` is ignored).
    func update(_ key: CacheKey, response: CachedResponse, ttl: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Void>

    /// Removes every variant of `key` (and, for shared stores, tells the other proxies' memory
    /// tiers). True when something was stored.
    func purge(_ key: CacheKey, on loop: any EventLoop) -> EventLoopFuture<Bool>

    /// Request coalescing: tries to take the fill lease of `key` for `ttl`; true when `holder` now
    /// holds it. With Redis the lease is shared by every proxy using that Redis.
    func acquireLease(_ key: CacheKey, holder: String, ttl: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Bool>

    /// Gives the lease back (only if `holder` still holds it).
    func releaseLease(_ key: CacheKey, holder: String, on loop: any EventLoop)

    /// Stops background work (subscriptions, connections).
    func shutdown() async
}

/// Takes one response body as it streams to the client, on the loop that created it.
protocol CacheWriter: AnyObject {
    /// Adds the next part of the body. False when the writer gave up (over the maximum object
    /// size, the store failing or too far behind): the caller stops feeding it, the client is
    /// not affected.
    func append(_ buffer: ByteBuffer) -> Bool
    /// The body is complete: the variant becomes visible (metadata written last).
    func finish()
    /// The response did not complete: nothing becomes visible and partial chunks are dropped.
    func abandon()
}
