import NIOCore
import NIOHTTP1

/// Receives one response, part by part, on the request's event loop: the future-level API the
/// proxy uses to keep a downstream connection and its upstream connection on one loop.
///
/// Backpressure: the agent reads from the socket while the delegate lets it. Call
/// `execution.pauseResponseBody()` when the consumer cannot take more and `resumeResponseBody()`
/// when it can; nothing is buffered in between.
public protocol ResponseDelegate: AnyObject {
    func responseHead(_ head: HTTPResponseHead, execution: RequestExecution)
    func responseBodyPart(_ buffer: ByteBuffer, execution: RequestExecution)
    /// The upstream read that delivered the last parts is done: the moment for a proxy to flush
    /// what it wrote downstream, once, so a response leaves in as few `writev` calls as it came.
    func responseReadComplete(execution: RequestExecution)
    func responseEnd(_ trailers: HTTPHeaders?, execution: RequestExecution)
    /// The request failed. Called at most once, and never after `responseEnd`.
    func responseFailed(_ error: TernClientError, execution: RequestExecution)
    /// A streamed request body may (true) or should not (false) be written now.
    func requestBodyWritabilityChanged(_ writable: Bool, execution: RequestExecution)
}

extension ResponseDelegate {
    public func responseReadComplete(execution: RequestExecution) {}

    public func requestBodyWritabilityChanged(_ writable: Bool, execution: RequestExecution) {}
}

/// How the request body will come.
public enum RequestBody: Sendable {
    case none
    /// The whole body, known up front: replayable, so a stale-connection retry may resend it.
    case bytes(ByteBuffer)
    /// Streamed by the caller with `writeBodyPart` and `finishBody`; `length` nil means chunked.
    case stream(length: Int?)
}
