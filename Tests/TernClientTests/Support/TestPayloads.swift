import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPCompression
import Synchronization

/// Bodies the test server serves, and their gzip/deflate encodings.
///
/// Compression uses zlib through NIOHTTPCompression's request compressor driven in an `EmbeddedChannel`, so the
/// bytes are exactly what a real zlib stream looks like; results are cached per process.
enum TestPayloads {
    /// About 34 KiB of text, compressible.
    static let text: String = String(repeating: "Tern decompression test payload, line after line.\n", count: 700)

    private static let cache = Mutex<[String: ByteBuffer]>([:])

    static func compressedText(encoding: String) -> ByteBuffer {
        cached("text-\(encoding)") {
            compress(encoding: encoding, totalBytes: text.utf8.count) { _ in ByteBuffer(string: text) }
        }
    }

    /// `count` zero bytes compressed: a small body that expands a lot, for decompression limits.
    static func compressedZeros(count: Int, encoding: String) -> ByteBuffer {
        cached("zeros-\(count)-\(encoding)") {
            let piece = 1 << 20
            let zeros = ByteBuffer(repeating: 0, count: min(piece, count))
            return compress(encoding: encoding, totalBytes: count) { remaining in
                zeros.getSlice(at: 0, length: min(piece, remaining))!
            }
        }
    }

    private static func cached(_ key: String, _ make: () -> ByteBuffer) -> ByteBuffer {
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let value = make()
        cache.withLock { $0[key] = value }
        return value
    }

    /// Feeds `next(remaining)` pieces to a zlib compressor, flushing after each so the input is never held whole.
    private static func compress(encoding: String, totalBytes: Int, next: (Int) -> ByteBuffer) -> ByteBuffer {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        let algorithm: NIOCompression.Algorithm = encoding == "gzip" ? .gzip : .deflate
        try! channel.pipeline.syncOperations.addHandler(NIOHTTPRequestCompressor(encoding: algorithm))
        var output = ByteBuffer()
        func drain() {
            while let part = try! channel.readOutbound(as: HTTPClientRequestPart.self) {
                if case .body(.byteBuffer(var bytes)) = part { output.writeBuffer(&bytes) }
            }
        }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")), promise: nil)
        var remaining = totalBytes
        while remaining > 0 {
            let piece = next(remaining)
            remaining -= piece.readableBytes
            channel.write(HTTPClientRequestPart.body(.byteBuffer(piece)), promise: nil)
            channel.flush()
            drain()
        }
        channel.write(HTTPClientRequestPart.end(nil), promise: nil)
        channel.flush()
        drain()
        return output
    }
}

/// An upload body of `total` bytes in `chunkSize` buffers.
///
/// By default the buffers are slices of one shared buffer, so the producer itself uses no memory. With
/// `freshBuffers` each chunk is a new allocation: then a consumer that buffered the body instead of streaming it
/// would show in the process's memory, which is what the bounded-memory tests measure.
struct RepeatingByteStream: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let total: Int
    let chunkSize: Int
    let freshBuffers: Bool

    init(total: Int, chunkSize: Int = 64 * 1024, freshBuffers: Bool = false) {
        self.total = total
        self.chunkSize = chunkSize
        self.freshBuffers = freshBuffers
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: Int
        let chunk: ByteBuffer
        let freshBuffers: Bool

        mutating func next() async throws -> ByteBuffer? {
            guard remaining > 0 else { return nil }
            let count = Swift.min(remaining, chunk.readableBytes)
            remaining -= count
            if freshBuffers {
                var copy = ByteBufferAllocator().buffer(capacity: count)
                copy.writeImmutableBuffer(chunk.getSlice(at: chunk.readerIndex, length: count)!)
                return copy
            }
            return chunk.getSlice(at: chunk.readerIndex, length: count)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(
            remaining: total,
            chunk: ByteBuffer(repeating: UInt8(ascii: "u"), count: chunkSize),
            freshBuffers: freshBuffers
        )
    }
}

/// Yields one 100-byte chunk, then waits (for an hour) in `next()` until its task is cancelled, and records that.
///
/// Used where a request with a streamed body fails mid-body: the producer stays parked instead of running on
/// after the test, so an agent that forgets to stop it fails `testFailedRequestStopsPullingItsBodyStream` rather
/// than crashing a later test when its leftover task touches shut-down event loops.
struct ParkedAfterFirstChunkStream: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    final class State: Sendable {
        private let cancelled = Mutex(false)
        var wasCancelled: Bool { cancelled.withLock { $0 } }
        func markCancelled() { cancelled.withLock { $0 = true } }
    }

    let state = State()

    struct AsyncIterator: AsyncIteratorProtocol {
        let state: State
        var sentFirst = false

        mutating func next() async throws -> ByteBuffer? {
            if !sentFirst {
                sentFirst = true
                return ByteBuffer(repeating: UInt8(ascii: "p"), count: 100)
            }
            do {
                try await Task.sleep(for: .seconds(3600))
            } catch {
                state.markCancelled()
                throw error
            }
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(state: state) }
}
