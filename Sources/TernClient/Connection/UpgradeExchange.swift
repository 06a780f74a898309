import NIOCore
import NIOHTTP1

/// Receives the answer to a request that asks to switch protocols (`Upgrade`, RFC 9110 §7.8), on
/// the request's event loop.
///
/// On `101 Switching Protocols` the delegate gets the connection's `Channel` with its HTTP handlers
/// removed: from then on it carries the new protocol's bytes, and it belongs to the delegate (which
/// must close it). Any other answer is an ordinary response, streamed part by part as with
/// `ResponseDelegate`; the connection is closed after it, never pooled.
public protocol UpgradeDelegate: AnyObject {
    /// The upstream switched protocols. Add handlers to `channel` in this call: bytes that arrived
    /// right behind the `101` are passed to them once it returns. The channel reads automatically
    /// unless a handler holds `read`.
    func upgraded(_ head: HTTPResponseHead, channel: any Channel, exchange: UpgradeExchange)
    func responseHead(_ head: HTTPResponseHead, exchange: UpgradeExchange)
    func responseBodyPart(_ buffer: ByteBuffer, exchange: UpgradeExchange)
    func responseReadComplete(exchange: UpgradeExchange)
    func responseEnd(_ trailers: HTTPHeaders?, exchange: UpgradeExchange)
    /// The exchange failed before `upgraded` or `responseEnd`. Called at most once.
    func responseFailed(_ error: TernClientError, exchange: UpgradeExchange)
}

extension UpgradeDelegate {
    public func responseReadComplete(exchange: UpgradeExchange) {}
}

/// One `Upgrade` request on a connection of its own (`Agent.executeUpgrade`). Lives on one event
/// loop; call its methods there.
public final class UpgradeExchange {
    let head: HTTPRequestHead
    let eventLoop: any EventLoop
    let address: String
    let readTimeout: TimeAmount?
    private var delegate: (any UpgradeDelegate)?
    var connection: UpgradeConnection?
    private var cancelled = false

    init(head: HTTPRequestHead, eventLoop: any EventLoop, address: String, readTimeout: TimeAmount?, delegate: any UpgradeDelegate) {
        self.head = head
        self.eventLoop = eventLoop
        self.address = address
        self.readTimeout = readTimeout
        self.delegate = delegate
    }

    /// Whether the exchange is over (upgraded, answered, failed or cancelled).
    public var isFinished: Bool { self.delegate == nil }

    /// Stops reading the (non-101) response body until `resumeResponseBody()`.
    public func pauseResponseBody() {
        self.eventLoop.assertInEventLoop()
        self.connection?.pauseReading()
    }

    public func resumeResponseBody() {
        self.eventLoop.assertInEventLoop()
        self.connection?.resumeReading()
    }

    /// Abandons the exchange and closes its connection. The delegate hears nothing more.
    public func cancel() {
        self.eventLoop.assertInEventLoop()
        self.cancelled = true
        self.delegate = nil
        let connection = self.connection
        self.connection = nil
        connection?.close()
    }

    var isCancelled: Bool { self.cancelled }

    // MARK: From the connection

    func connected(_ connection: UpgradeConnection) {
        self.connection = connection
    }

    func receivedHead(_ head: HTTPResponseHead) {
        self.delegate?.responseHead(head, exchange: self)
    }

    func receivedBodyPart(_ buffer: ByteBuffer) {
        self.delegate?.responseBodyPart(buffer, exchange: self)
    }

    func receivedReadComplete() {
        self.delegate?.responseReadComplete(exchange: self)
    }

    func receivedEnd(_ trailers: HTTPHeaders?) {
        let delegate = self.delegate
        self.delegate = nil
        self.connection = nil
        delegate?.responseEnd(trailers, exchange: self)
    }

    /// Returns false when nobody wants the channel any more (the caller then closes it).
    func upgraded(_ head: HTTPResponseHead, channel: any Channel) -> Bool {
        guard let delegate = self.delegate else { return false }
        self.delegate = nil
        self.connection = nil
        delegate.upgraded(head, channel: channel, exchange: self)
        return true
    }

    func fail(_ error: TernClientError) {
        let delegate = self.delegate
        self.delegate = nil
        let connection = self.connection
        self.connection = nil
        connection?.close()
        var error = error
        if error.address == nil { error.address = self.address }
        delegate?.responseFailed(error, exchange: self)
    }
}

@available(*, unavailable)
extension UpgradeExchange: Sendable {}
