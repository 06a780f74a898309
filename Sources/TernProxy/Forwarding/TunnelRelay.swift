import NIOCore

/// When the last byte went through a tunnel, either way; closes both ends after `timeout` of
/// silence (the route's `timeout read`, as nginx's `proxy_read_timeout` bounds a WebSocket).
final class TunnelIdleTimer {
    private let timeout: TimeAmount
    private let eventLoop: any EventLoop
    var last = NIODeadline.now()
    private var task: Scheduled<Void>?
    private var expired: (() -> Void)?

    init(timeout: TimeAmount, eventLoop: any EventLoop) {
        self.timeout = timeout
        self.eventLoop = eventLoop
    }

    func start(_ expired: @escaping () -> Void) {
        self.expired = expired
        self.arm()
    }

    private func arm() {
        self.task = self.eventLoop.assumeIsolated().scheduleTask(deadline: self.last + self.timeout) { [self] in
            self.task = nil
            if NIODeadline.now() - self.last >= self.timeout {
                let expired = self.expired
                self.expired = nil
                expired?()
            } else if self.expired != nil {
                self.arm()
            }
        }
    }

    func stop() {
        self.expired = nil
        self.task?.cancel()
        self.task = nil
    }
}

@available(*, unavailable)
extension TunnelIdleTimer: Sendable {}

/// One end of a byte tunnel (the pattern of swift-nio's `GlueHandler`): what one channel reads,
/// its partner writes. Backpressure: a side reads only while its partner's channel is writable.
/// A half-close is passed on as a half-close; when either channel closes, the other is closed
/// once what was written to it has gone out.
final class TunnelRelay: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: TunnelRelay?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var outputClosed = false
    private var closing = false
    private let onClose: (() -> Void)?
    private let idle: TunnelIdleTimer

    private init(idle: TunnelIdleTimer, onClose: (() -> Void)?) {
        self.idle = idle
        self.onClose = onClose
    }

    /// The client's end (which reports the tunnel's end through `onClose`) and the upstream's.
    static func pair(idleTimeout: TimeAmount, on eventLoop: any EventLoop, onClose: @escaping () -> Void) -> (TunnelRelay, TunnelRelay) {
        let idle = TunnelIdleTimer(timeout: idleTimeout, eventLoop: eventLoop)
        let first = TunnelRelay(idle: idle, onClose: onClose)
        let second = TunnelRelay(idle: idle, onClose: nil)
        first.partner = second
        second.partner = first
        idle.start { [weak first, weak second] in
            first?.context?.close(promise: nil)
            second?.context?.close(promise: nil)
        }
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    private var isWritable: Bool { self.context?.channel.isWritable ?? false }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let partner = self.partner, let other = partner.context, !partner.outputClosed else { return }
        self.idle.last = .coarseNow()
        other.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.partner?.context?.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if self.partner?.isWritable ?? false {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let partner = self.partner, partner.pendingRead, let other = partner.context {
            partner.pendingRead = false
            other.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            self.inputClosed = true
            self.partner?.shutDownOutput()
            self.closeIfDone()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closing = true
        self.idle.stop()
        if let onClose { onClose() }
        self.partner?.closeAfterWrites()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The partner's input ended: end this side's output once what it relayed has been written.
    private func shutDownOutput() {
        guard let context = self.context, !self.outputClosed, !self.closing else { return }
        self.outputClosed = true
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer()), promise: written)
        written.futureResult.assumeIsolated().whenComplete { [self] _ in
            guard let context = self.context else { return }
            let closed = context.eventLoop.makePromise(of: Void.self)
            context.close(mode: .output, promise: closed)
            closed.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
            self.closeIfDone()
        }
    }

    private func closeIfDone() {
        if self.inputClosed && self.outputClosed { self.closeAfterWrites() }
    }

    private func closeAfterWrites() {
        guard let context = self.context, !self.closing else { return }
        self.closing = true
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer()), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

@available(*, unavailable)
extension TunnelRelay: Sendable {}
