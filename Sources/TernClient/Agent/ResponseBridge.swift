import NIOCore
import NIOHTTP1

/// Carries one exchange from the event loop to `async` code: the head completes a promise, body
/// parts go into an `NIOThrowingAsyncSequenceProducer` whose demand pauses and resumes reading.
/// Loop state is touched only on `eventLoop`; the producer's callbacks hop there.
///
/// Small responses usually arrive whole in one socket read. So the head is held until that read
/// completes: if the end came with it, the caller gets the body as the buffers already read, and
/// no producer (nor its allocations and hops) is made at all.
///
/// A streamed body is handed over once per read cycle, not once per part: NIO reads a socket
/// several times per readiness event, and each hand-over may wake the consumer's thread (a futex
/// wake and two context switches; about a quarter of a large download's CPU time).
final class ResponseBridge: ResponseDelegate, NIOAsyncSequenceProducerDelegate, @unchecked Sendable {
    let eventLoop: any EventLoop
    /// Dropped once completed: a future keeps its value, and this one's value holds the body
    /// sequence, whose storage holds this bridge. Kept, it would keep an unread body alive forever.
    private var headPromise: EventLoopPromise<(HTTPResponseHead, Response.Body)>?
    private var source: Response.Body.Producer.Source?
    private var execution: RequestExecution?
    private var headDelivered = false
    /// The head and body parts of the read under way, before the head is handed over.
    private var pendingHead: HTTPResponseHead?
    private var pendingParts: [ByteBuffer] = []
    private var pendingBytes = 0
    private static let maxPendingBytes = 256 * 1024
    /// A bound on one read cycle's batch (NIO reads at most 4 x 128 KiB per cycle, but a
    /// decompressor may turn that into more).
    private static let maxBatchBytes = 1024 * 1024
    /// The task feeding a streamed request body; cancelled when the exchange ends, so a producer
    /// parked in `next()` does not outlive its request.
    var bodyPump: Task<Void, Never>?
    /// Cancellation that arrived before the exchange started.
    private var cancellation: TernClientError?

    init(eventLoop: any EventLoop, headPromise: EventLoopPromise<(HTTPResponseHead, Response.Body)>) {
        self.eventLoop = eventLoop
        self.headPromise = headPromise
    }

    func started(_ execution: RequestExecution) {
        if let cancellation = self.cancellation {
            execution.cancel(with: cancellation)
        } else if !execution.isFinished {
            self.execution = execution
        }
    }

    func responseHead(_ head: HTTPResponseHead, execution: RequestExecution) {
        self.execution = execution
        self.pendingHead = head
    }

    func responseReadComplete(execution: RequestExecution) {
        if self.pendingHead != nil {
            self.deliverStreaming()
        } else if !self.pendingParts.isEmpty {
            self.flushParts()
        }
    }

    /// Hands the parts read in this cycle to the consumer in one go.
    private func flushParts() {
        guard let source = self.source else {
            self.pendingParts.removeAll()
            return
        }
        var parts: [ByteBuffer] = []
        swap(&parts, &self.pendingParts)
        self.pendingBytes = 0
        let result = source.yield(contentsOf: parts)
        // The producer copied the parts into its own buffer: the array's storage is free again.
        parts.removeAll(keepingCapacity: true)
        self.pendingParts = parts
        switch result {
        case .produceMore: break
        case .stopProducing: self.execution?.pauseResponseBody()
        case .dropped: self.execution?.cancel()
        }
    }

    /// The response did not end within the read that brought its head: hand over a streaming body.
    private func deliverStreaming() {
        guard let head = self.pendingHead else { return }
        self.pendingHead = nil
        let made = Response.Body.Producer.makeSequence(
            backPressureStrategy: .init(lowWatermark: 1, highWatermark: 4),
            finishOnDeinit: false,
            delegate: self
        )
        self.source = made.source
        self.headDelivered = true
        let promise = self.headPromise
        self.headPromise = nil
        promise?.succeed((head, Response.Body(made.sequence)))
        if !self.pendingParts.isEmpty { self.flushParts() }
    }

    func responseBodyPart(_ buffer: ByteBuffer, execution: RequestExecution) {
        // Held until the read cycle completes (`responseReadComplete`), or the end.
        self.pendingParts.append(buffer)
        self.pendingBytes += buffer.readableBytes
        if self.pendingHead != nil {
            if self.pendingBytes > Self.maxPendingBytes { self.deliverStreaming() }
        } else if self.pendingBytes > Self.maxBatchBytes {
            self.flushParts()
        }
    }

    func responseEnd(_ trailers: HTTPHeaders?, execution: RequestExecution) {
        self.execution = nil
        self.bodyPump?.cancel()
        self.bodyPump = nil
        if let head = self.pendingHead {
            // The whole response came in one read: no producer needed.
            self.pendingHead = nil
            self.headDelivered = true
            let promise = self.headPromise
            self.headPromise = nil
            let parts = self.pendingParts
            self.pendingParts = []
            promise?.succeed((head, Response.Body(buffered: parts)))
            return
        }
        if !self.pendingParts.isEmpty { self.flushParts() }
        self.source?.finish()
        self.source = nil
    }

    func responseFailed(_ error: TernClientError, execution: RequestExecution) {
        self.execution = nil
        self.bodyPump?.cancel()
        self.bodyPump = nil
        if self.pendingHead != nil {
            // Failed within the read that brought the head: the head goes out with a body that fails.
            self.deliverStreaming()
        }
        if self.headDelivered {
            // Parts read before the failure still reach the consumer, then the error.
            if !self.pendingParts.isEmpty { self.flushParts() }
            self.source?.finish(error)
            self.source = nil
        } else {
            let promise = self.headPromise
            self.headPromise = nil
            promise?.fail(error)
        }
    }

    /// Cancels the exchange from any thread (task cancellation).
    func cancel(_ error: TernClientError) {
        self.eventLoop.execute {
            self.cancellation = error
            self.execution?.cancel(with: error)
        }
    }

    func produceMore() {
        self.eventLoop.execute {
            self.execution?.resumeResponseBody()
        }
    }

    func didTerminate() {
        // The consumer stopped iterating (or dropped the body): nothing will read the rest.
        self.eventLoop.execute {
            self.execution?.cancel(with: TernClientError(code: .cancelled, phase: .read, detail: "response body dropped"))
        }
    }
}
