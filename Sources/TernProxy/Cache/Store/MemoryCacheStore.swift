import NIOConcurrencyHelpers
import NIOCore

/// Cached responses in this process's memory, shared by all its event loops: bounded in total
/// bytes with least-recently-used eviction, each variant with its own expiry, bodies kept as
/// chunks of `ByteBuffer`. One lock guards it, held only for dictionary and list updates (never
/// while copying a body). Every stored body has a generation, new on each write (a counter here;
/// a tier in front of Redis keeps Redis's), and is read only by it: a replaced body's chunks are
/// gone at once, a reader of it gets nil. Besides the `CacheStore` futures it has a synchronous
/// hit path, `lookupNow` and `bodyNow`, that allocates no future.
final class MemoryCacheStore: CacheStore {
    static let defaultChunkSize = 64 * 1024
    /// Counted per variant on top of its body: a rough size of the metadata and bookkeeping.
    static let variantOverhead = 256

    /// Total bytes (bodies plus the rough metadata size) the store keeps.
    let capacity: Int
    /// Bodies longer than this are not stored (the writer gives up).
    let maxObjectSize: Int
    /// Small appends are coalesced into chunks of this size.
    let chunkSize: Int
    /// A tier in front of a shared store keeps each key's variants all or none: a variant that
    /// expires or cannot be stored drops the whole entry, so a lookup never misses a variant that
    /// the shared store holds.
    let keepsEntriesWhole: Bool
    private let state: NIOLockedValueBox<MemoryCacheState>

    init(capacity: Int, maxObjectSize: Int, chunkSize: Int = MemoryCacheStore.defaultChunkSize, keepsEntriesWhole: Bool = false) {
        precondition(capacity > 0 && maxObjectSize > 0 && chunkSize > 0, "MemoryCacheStore sizes must be positive")
        self.capacity = capacity
        self.maxObjectSize = maxObjectSize
        self.chunkSize = chunkSize
        self.keepsEntriesWhole = keepsEntriesWhole
        self.state = NIOLockedValueBox(MemoryCacheState())
    }

    deinit {
        self.state.withLockedValue { $0.removeAll() }
    }

    // MARK: The synchronous hit path

    /// The live variants of `key` (metadata), marking the entry recently used; empty on a miss.
    func lookupNow(_ key: CacheKey, now: NIODeadline) -> [CachedResponse] {
        self.state.withLockedValue { $0.lookup(key.hash, now: now, wholeEntries: self.keepsEntriesWhole) } ?? []
    }

    /// Every body chunk of `variant` as a lookup returned it; nil when that generation of its body
    /// is not stored (any more).
    func bodyNow(_ key: CacheKey, variant: CachedResponse) -> [ByteBuffer]? {
        self.state.withLockedValue { $0.variant(key.hash, variant)?.chunks }
    }

    // MARK: What the store holds

    /// Bytes counted against `capacity` now.
    var usedBytes: Int { self.state.withLockedValue { $0.total } }

    /// How many keys are stored.
    var count: Int { self.state.withLockedValue { $0.entries.count } }

    func contains(_ key: CacheKey) -> Bool {
        self.state.withLockedValue { $0.entries[key.hash] != nil }
    }

    /// Stores one finished variant (replacing one with the same ID), evicting the least recently
    /// used entries to make room. `onlyIfPresent`: only when the key already has an entry. Its
    /// body is stored as `generation`, or a new one of this store when nil.
    @discardableResult
    func insert(
        _ key: CacheKey, response: CachedResponse, chunks: [ByteBuffer], expires: NIODeadline,
        generation: String? = nil, onlyIfPresent: Bool = false
    ) -> Bool {
        var response = response
        response.firstChunk = nil  // the chunks are stored whole beside it
        response.keepHeadLines()
        let cost = Self.cost(of: response, chunks: chunks)
        return self.state.withLockedValue { state in
            response.generation = generation ?? state.newGeneration()
            if onlyIfPresent && state.entries[key.hash] == nil { return false }
            guard cost <= self.capacity else {
                if self.keepsEntriesWhole { state.remove(key.hash) } else { state.removeVariant(key.hash, response.variantID) }
                return false
            }
            state.put(key.hash, MemoryCacheState.Variant(response: response, chunks: chunks, expires: expires, cost: cost))
            state.evict(toFit: self.capacity)
            return state.entries[key.hash] != nil
        }
    }

    /// Replaces the whole entry of `key` with `variants` (possibly none: a marker that the entry
    /// is known, valid until `expires`), unless anything was removed since `removalCount` was read.
    /// Each variant keeps its `generation` (a new one when it has none).
    @discardableResult
    func replaceEntry(
        _ key: CacheKey,
        variants: [(response: CachedResponse, chunks: [ByteBuffer])],
        expires: NIODeadline,
        unlessRemovedSince removalCount: UInt64
    ) -> Bool {
        let stored = variants.map {
            var response = $0.response
            response.keepHeadLines()
            return MemoryCacheState.Variant(response: response, chunks: $0.chunks, expires: expires, cost: Self.cost(of: response, chunks: $0.chunks))
        }
        let cost = stored.reduce(0) { $0 + $1.cost }
        guard cost <= self.capacity else { return false }
        return self.state.withLockedValue { state in
            guard state.removals == removalCount else { return false }
            var stored = stored
            for index in stored.indices where stored[index].response.generation.isEmpty {
                stored[index].response.generation = state.newGeneration()
            }
            state.replaceEntry(key.hash, stored, expires: expires)
            state.evict(toFit: self.capacity)
            return state.entries[key.hash] != nil
        }
    }

    /// How many removals (purges, pub/sub drops, clears) happened so far.
    var removalCount: UInt64 { self.state.withLockedValue { $0.removals } }

    /// Drops the entry whose `CacheKey.hash` is `hash`; true if there was one.
    @discardableResult
    func remove(hash: String) -> Bool {
        self.state.withLockedValue { $0.remove(hash) }
    }

    func removeAll() {
        self.state.withLockedValue { $0.removeAll() }
    }

    static func cost(of response: CachedResponse, chunks: [ByteBuffer]) -> Int {
        var cost = Self.variantOverhead + response.variantID.utf8.count
        for (name, value) in response.headers { cost += name.utf8.count + value.utf8.count + 4 }
        cost += response.headLines?.bytes.readableBytes ?? 0  // the same fields written out
        for chunk in chunks { cost += chunk.readableBytes }
        return cost
    }

    // MARK: CacheStore

    func variants(of key: CacheKey, on loop: any EventLoop) -> EventLoopFuture<[CachedResponse]> {
        loop.makeSucceededFuture(self.lookupNow(key, now: .now()))
    }

    func chunk(_ index: Int, of key: CacheKey, variant: CachedResponse, on loop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        let chunk: ByteBuffer? = self.state.withLockedValue { state in
            guard let chunks = state.variant(key.hash, variant)?.chunks, chunks.indices.contains(index) else { return nil }
            return chunks[index]
        }
        return loop.makeSucceededFuture(chunk)
    }

    func writer(for key: CacheKey, response: CachedResponse, ttl: TimeAmount, on loop: any EventLoop) -> any CacheWriter {
        MemoryCacheWriter(store: self, key: key, response: response, ttl: ttl, maxObjectSize: self.maxObjectSize)
    }

    func update(_ key: CacheKey, response: CachedResponse, ttl: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Void> {
        self.update(key, response: response, expires: .now() + ttl)
        return loop.makeSucceededVoidFuture()
    }

    /// Replaces a stored variant's metadata, keeping its body and generation; false when it is not
    /// stored.
    @discardableResult
    func update(_ key: CacheKey, response: CachedResponse, expires: NIODeadline) -> Bool {
        self.state.withLockedValue { state in
            guard let entry = state.entries[key.hash], var variant = entry.variants[response.variantID] else { return false }
            var updated = response
            updated.firstChunk = nil  // the body is stored whole beside it
            updated.bodyLength = variant.response.bodyLength
            updated.chunkCount = variant.response.chunkCount
            updated.generation = variant.response.generation
            updated.keepHeadLines()
            variant.response = updated
            variant.expires = expires
            let cost = Self.cost(of: updated, chunks: variant.chunks)
            state.total += cost - variant.cost
            entry.cost += cost - variant.cost
            variant.cost = cost
            entry.variants[response.variantID] = variant
            entry.expires = max(entry.expires, expires)
            return true
        }
    }

    func purge(_ key: CacheKey, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        loop.makeSucceededFuture(self.remove(hash: key.hash))
    }

    func acquireLease(_ key: CacheKey, holder: String, ttl: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        let now = NIODeadline.now()
        let acquired = self.state.withLockedValue { state -> Bool in
            if let lease = state.leases[key.hash], lease.expires > now { return false }
            if state.leases.count >= 4096 { state.leases = state.leases.filter { $0.value.expires > now } }
            state.leases[key.hash] = (holder, now + ttl)
            return true
        }
        return loop.makeSucceededFuture(acquired)
    }

    func releaseLease(_ key: CacheKey, holder: String, on loop: any EventLoop) {
        self.state.withLockedValue { state in
            if state.leases[key.hash]?.holder == holder { state.leases[key.hash] = nil }
        }
    }

    func shutdown() async {}
}

/// What `MemoryCacheStore` guards with its lock: the entries by key hash, a least-recently-used
/// list through them (most recent at `head`), the byte total, and the leases.
struct MemoryCacheState: Sendable {
    struct Variant {
        var response: CachedResponse
        var chunks: [ByteBuffer]
        var expires: NIODeadline
        var cost: Int
    }

    /// One key's variants; a node of the LRU list. Touched only under the store's lock.
    final class Entry: @unchecked Sendable {
        let hash: String
        var variants: [String: Variant] = [:]
        var cost = 0
        /// How long the entry itself is known (matters when it has no variant: a tier's marker).
        var expires: NIODeadline
        var newer: Entry?
        var older: Entry?

        init(hash: String, expires: NIODeadline) {
            self.hash = hash
            self.expires = expires
        }
    }

    var entries: [String: Entry] = [:]
    var head: Entry?
    var tail: Entry?
    var total = 0
    var removals: UInt64 = 0
    /// The last generation this store gave a body.
    var generations: UInt64 = 0
    var leases: [String: (holder: String, expires: NIODeadline)] = [:]

    /// A generation no body of this store had before.
    mutating func newGeneration() -> String {
        self.generations &+= 1
        return "m" + String(self.generations, radix: 36)
    }

    /// The stored variant with the ID and generation of `response`, if it is still there.
    func variant(_ hash: String, _ response: CachedResponse) -> Variant? {
        guard let variant = self.entries[hash]?.variants[response.variantID],
            variant.response.generation == response.generation
        else { return nil }
        return variant
    }

    mutating func lookup(_ hash: String, now: NIODeadline, wholeEntries: Bool) -> [CachedResponse]? {
        guard let entry = self.entries[hash] else { return nil }
        var result: [CachedResponse] = []
        result.reserveCapacity(entry.variants.count)
        var expired: [String] = []
        for (id, variant) in entry.variants {
            if variant.expires <= now { expired.append(id) } else { result.append(variant.response) }
        }
        if wholeEntries && !expired.isEmpty {
            self.removeEntry(hash)
            return []
        }
        for id in expired { self.removeVariant(hash, id) }
        if self.entries[hash] == nil { return [] }
        if result.isEmpty && entry.expires <= now {
            self.remove(hash)
            return []
        }
        self.moveToHead(entry)
        return result
    }

    mutating func put(_ hash: String, _ variant: Variant) {
        let entry = self.entries[hash] ?? self.makeEntry(hash, expires: variant.expires)
        if let old = entry.variants[variant.response.variantID] {
            entry.cost -= old.cost
            self.total -= old.cost
        }
        entry.variants[variant.response.variantID] = variant
        entry.cost += variant.cost
        entry.expires = max(entry.expires, variant.expires)
        self.total += variant.cost
        self.moveToHead(entry)
    }

    mutating func replaceEntry(_ hash: String, _ variants: [Variant], expires: NIODeadline) {
        self.removeEntry(hash)
        let entry = self.makeEntry(hash, expires: expires)
        for variant in variants {
            entry.variants[variant.response.variantID] = variant
            entry.cost += variant.cost
            self.total += variant.cost
        }
    }

    mutating func removeVariant(_ hash: String, _ id: String) {
        guard let entry = self.entries[hash], let variant = entry.variants.removeValue(forKey: id) else { return }
        entry.cost -= variant.cost
        self.total -= variant.cost
        if entry.variants.isEmpty { self.removeEntry(hash) }
    }

    /// Drops the least recently used entries until the total fits.
    mutating func evict(toFit capacity: Int) {
        while self.total > capacity, let victim = self.tail {
            self.removeEntry(victim.hash)
        }
    }

    /// Drops the entry; true when it held a variant (not just a tier's marker).
    @discardableResult
    mutating func remove(_ hash: String) -> Bool {
        self.removals &+= 1
        let held = !(self.entries[hash]?.variants.isEmpty ?? true)
        self.removeEntry(hash)
        return held
    }

    mutating func removeAll() {
        self.removals &+= 1
        var node = self.head
        while let current = node {
            node = current.older
            current.older = nil
            current.newer = nil
        }
        self.head = nil
        self.tail = nil
        self.entries = [:]
        self.total = 0
    }

    private mutating func makeEntry(_ hash: String, expires: NIODeadline) -> Entry {
        let entry = Entry(hash: hash, expires: expires)
        self.entries[hash] = entry
        self.moveToHead(entry)
        return entry
    }

    @discardableResult
    private mutating func removeEntry(_ hash: String) -> Bool {
        guard let entry = self.entries.removeValue(forKey: hash) else { return false }
        self.unlink(entry)
        self.total -= entry.cost
        return true
    }

    private mutating func unlink(_ entry: Entry) {
        if let newer = entry.newer { newer.older = entry.older } else if self.head === entry { self.head = entry.older }
        if let older = entry.older { older.newer = entry.newer } else if self.tail === entry { self.tail = entry.newer }
        entry.newer = nil
        entry.older = nil
    }

    private mutating func moveToHead(_ entry: Entry) {
        if self.head === entry { return }
        self.unlink(entry)
        entry.older = self.head
        self.head?.newer = entry
        self.head = entry
        if self.tail == nil { self.tail = entry }
    }
}
