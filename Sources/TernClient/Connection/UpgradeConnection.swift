import NIOCore
import NIOHTTP1

/// The last handler of an upgrade connection: writes the request, reads the answer, and on `101`
/// takes the HTTP codec out of the pipeline and hands the channel over.
final class UpgradeConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private let exchange: UpgradeExchange
    private var context: ChannelHandlerContext?
    private var switching: HTTPResponseHead?
    private var gotHead = false
    private var done = false
    private var readPaused = false
    private var readPending = false
    private var lastActivity = NIODeadline.now()
    private var readTimer: Scheduled<Void>?

    init(exchange: UpgradeExchange) {
        self.exchange = exchange
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func start() {
        guard let context = self.context else {
            self.exchange.fail(TernClientError(code: .remoteClosed, phase: .write, detail: "connection closed before use"))
            return
        }
        self.exchange.connected(self)
        self.lastActivity = .coarseNow()
        context.write(self.wrapOutboundOut(.head(self.exchange.head)), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        if let timeout = self.exchange.readTimeout { self.armReadTimer(timeout) }
    }

    func pauseReading() { self.readPaused = true }

    func resumeReading() {
        guard self.readPaused else { return }
        self.readPaused = false
        self.lastActivity = .coarseNow()
        if self.readPending, let context = self.context {
            self.readPending = false
            context.read()
        }
    }

    func close() {
        self.done = true
        self.readTimer?.cancel()
        self.readTimer = nil
        self.context?.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if self.readPaused { self.readPending = true } else { context.read() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.done else { return }
        self.lastActivity = .coarseNow()
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.gotHead = true
            if head.status == .switchingProtocols {
                self.switching = head  // acted on at `.end`, when the decoder has stopped parsing
            } else {
                self.exchange.receivedHead(head)
            }
        case .body(let buffer):
            if self.switching == nil { self.exchange.receivedBodyPart(buffer) }
        case .end(let trailers):
            self.done = true
            self.readTimer?.cancel()
            self.readTimer = nil
            if let head = self.switching {
                self.handOver(head, context: context)
            } else {
                context.close(promise: nil)
                self.exchange.receivedEnd(trailers)
            }
        }
    }

    /// Takes the codec out, then hands the channel over. A `HoldBytes` handler keeps the bytes
    /// that came behind the `101` (the codec passes them on as it leaves), and the delegate hears
    /// of the channel only once the codec is gone, so that nothing it writes meets the codec.
    private func handOver(_ head: HTTPResponseHead, context: ChannelHandlerContext) {
        let channel = context.channel
        let sync = channel.pipeline.syncOperations
        let exchange = self.exchange
        let hold = HoldBytes()
        do {
            let codec = try sync.handler(type: HTTP1ClientCodec.self)
            try sync.addHandler(hold)
            sync.removeHandler(context: context, promise: nil)
            let removed = channel.eventLoop.makePromise(of: Void.self)
            sync.removeHandler(codec, promise: removed)
            removed.futureResult.assumeIsolated().whenComplete { result in
                guard case .success = result, exchange.upgraded(head, channel: channel) else {
                    channel.close(promise: nil)
                    return
                }
                // The held bytes go on to the handlers the delegate added; a read held while the
                // answer was awaited would be lost with this handler, so ask again.
                channel.pipeline.syncOperations.removeHandler(hold, promise: nil)
                channel.read()
            }
        } catch {
            channel.close(promise: nil)
            exchange.fail(TernClientError(code: .invalidResponse, phase: .read, detail: "cannot switch protocols: \(error)"))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !self.done { self.exchange.receivedReadComplete() }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !self.done else {
            context.fireErrorCaught(error)
            return
        }
        let phase: TernClientError.Phase = self.gotHead ? .read : .write
        let mapped: TernClientError
        if let error = error as? TernClientError {
            mapped = error
        } else if error is HTTPParserError {
            mapped = TernClientError(code: .invalidResponse, phase: .read, detail: "\(error)")
        } else {
            mapped = TernClientError(code: .remoteClosed, phase: phase, detail: "\(error)")
        }
        self.done = true
        self.exchange.fail(mapped)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.readTimer?.cancel()
        self.readTimer = nil
        if !self.done {
            self.done = true
            self.exchange.fail(
                TernClientError(
                    code: .remoteClosed,
                    phase: self.gotHead ? .read : .write,
                    detail: self.gotHead ? "connection closed mid-response" : "connection closed before the response"
                )
            )
        }
        context.fireChannelInactive()
    }

    private func armReadTimer(_ timeout: TimeAmount) {
        guard let context = self.context else { return }
        self.readTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: self.lastActivity + timeout) { [self] in
            self.readTimer = nil
            guard !self.done else { return }
            if self.readPaused || NIODeadline.now() - self.lastActivity < timeout {
                self.armReadTimer(timeout)
            } else {
                self.done = true
                self.exchange.fail(
                    TernClientError(code: .readTimeout, phase: .read, detail: "no data for \(timeout.nanoseconds / 1_000_000) ms")
                )
            }
        }
    }
}

@available(*, unavailable)
extension UpgradeConnection: Sendable {}

/// Keeps what is read while the codec leaves, and passes it on when it is itself removed.
final class HoldBytes: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private var held: [NIOAny] = []
    private var readComplete = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.held.append(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.held.isEmpty { context.fireChannelReadComplete() } else { self.readComplete = true }
    }

    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        let held = self.held
        self.held = []
        for data in held { context.fireChannelRead(data) }
        if self.readComplete || !held.isEmpty { context.fireChannelReadComplete() }
        context.leavePipeline(removalToken: removalToken)
    }
}

@available(*, unavailable)
extension HoldBytes: Sendable {}
