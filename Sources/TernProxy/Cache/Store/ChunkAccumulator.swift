import NIOCore

/// Coalesces the body parts a writer is given into chunks of at most `chunkSize` bytes, copying
/// them into buffers of its own (a part read from a socket may be a slice of a larger buffer,
/// which the cache must not keep alive). A 1 KiB body becomes one chunk of 1 KiB.
struct ChunkAccumulator {
    let chunkSize: Int
    private var current: ByteBuffer?
    private let allocator = ByteBufferAllocator()

    init(chunkSize: Int) {
        precondition(chunkSize > 0)
        self.chunkSize = chunkSize
    }

    /// Adds `part`, calling `full` with each chunk that fills.
    mutating func append(_ part: ByteBuffer, full: (ByteBuffer) -> Void) {
        var part = part
        while part.readableBytes > 0 {
            var current = self.current ?? self.allocator.buffer(capacity: min(self.chunkSize, max(part.readableBytes, 1024)))
            self.current = nil
            let take = min(self.chunkSize - current.readableBytes, part.readableBytes)
            var slice = part.readSlice(length: take)!
            current.writeBuffer(&slice)
            if current.readableBytes == self.chunkSize {
                full(current)
            } else {
                self.current = current
            }
        }
    }

    /// The last, partly filled chunk, trimmed to its size; nil when there is none.
    mutating func takeRest() -> ByteBuffer? {
        guard let current = self.current, current.readableBytes > 0 else {
            self.current = nil
            return nil
        }
        self.current = nil
        if current.capacity > 2 * current.readableBytes + 1024 {
            var trimmed = self.allocator.buffer(capacity: current.readableBytes)
            trimmed.writeImmutableBuffer(current)
            return trimmed
        }
        return current
    }

    mutating func reset() {
        self.current = nil
    }
}
