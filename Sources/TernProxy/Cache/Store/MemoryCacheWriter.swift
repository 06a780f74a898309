import NIOCore

/// Takes one body into a `MemoryCacheStore`: chunks collect in the writer (no lock) and enter the
/// store together at `finish()`, so nothing is visible before. Beyond `maxObjectSize` it gives up
/// and drops what it holds. The body gets a new generation of the store at `finish()`, or the one
/// given (a tier storing the same body as Redis, under Redis's generation).
final class MemoryCacheWriter: CacheWriter {
    private let store: MemoryCacheStore
    private let key: CacheKey
    private var response: CachedResponse
    private let ttl: TimeAmount
    private let maxObjectSize: Int
    /// Only into an entry the memory already has (a tier keeping each entry complete).
    private let onlyIfPresent: Bool
    private let generation: String?
    private var accumulator: ChunkAccumulator
    private var chunks: [ByteBuffer] = []
    private var length = 0
    private var done = false

    init(
        store: MemoryCacheStore, key: CacheKey, response: CachedResponse, ttl: TimeAmount, maxObjectSize: Int,
        generation: String? = nil, onlyIfPresent: Bool = false
    ) {
        self.store = store
        self.key = key
        self.response = response
        self.ttl = ttl
        self.maxObjectSize = maxObjectSize
        self.onlyIfPresent = onlyIfPresent
        self.generation = generation
        self.accumulator = ChunkAccumulator(chunkSize: store.chunkSize)
    }

    /// Whether the writer still takes parts.
    var isWriting: Bool { !self.done }

    func append(_ buffer: ByteBuffer) -> Bool {
        guard !self.done else { return false }
        guard buffer.readableBytes <= self.maxObjectSize - self.length else {
            self.abandon()
            return false
        }
        self.length += buffer.readableBytes
        self.accumulator.append(buffer) { self.chunks.append($0) }
        return true
    }

    func finish() {
        guard !self.done else { return }
        self.done = true
        if let rest = self.accumulator.takeRest() { self.chunks.append(rest) }
        self.response.bodyLength = self.length
        self.response.chunkCount = self.chunks.count
        self.store.insert(
            self.key, response: self.response, chunks: self.chunks, expires: .now() + self.ttl,
            generation: self.generation, onlyIfPresent: self.onlyIfPresent
        )
        self.chunks = []
    }

    func abandon() {
        self.done = true
        self.chunks = []
        self.accumulator.reset()
    }
}
