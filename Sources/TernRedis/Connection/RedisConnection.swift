import NIOCore

/// One Redis connection, as the last handler of its channel's pipeline: the thin shell around
/// `RedisConnectionStateMachine`. It is created before the channel (so commands can queue while
/// it connects), runs only on its loop, and takes no lock.
///
/// Writes are gathered: commands sent during one tick of the loop are copied into one buffer that
/// is written and flushed once, at the end of the tick, so a pipeline of n commands costs one
/// `write` system call, not n. Replies are decoded straight from the bytes read, as slices.
final class RedisConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    typealias Promise = RedisPending

    let id: Int
    let address: String
    let eventLoop: any EventLoop
    private let commandTimeout: TimeAmount
    private var machine: RedisConnectionStateMachine<Promise>
    private var decoder: RESPDecoder
    private var context: ChannelHandlerContext?
    private var cumulation: ByteBuffer?
    private var outbound: ByteBuffer?
    private var flushScheduled = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var closeError: RedisError?

    /// The handshake finished: the connection carries commands now.
    var onReady: ((RedisConfiguration.ProtocolVersion) -> Void)?
    /// The connection is gone, or never came: called once, with the reason.
    var onClose: ((RedisError) -> Void)?
    /// RESP3 pushes, and for a RESP2 subscriber every reply.
    var onPush: ((RESPValue) -> Void)?
    /// A RESP2 connection in subscribe mode answers only with messages.
    var repliesArePushes = false
    private(set) var protocolVersion: RedisConfiguration.ProtocolVersion?

    init(id: Int, address: String, configuration: RedisConfiguration, eventLoop: any EventLoop) {
        self.id = id
        self.address = address
        self.eventLoop = eventLoop
        self.commandTimeout = configuration.commandTimeout
        self.machine = RedisConnectionStateMachine(
            handshake: RedisHandshake(configuration: configuration, address: address),
            address: address,
            maxPending: configuration.maxInFlightPerConnection
        )
        self.decoder = RESPDecoder(limits: configuration.decoderLimits)
    }

    var state: RedisConnectionStateMachine<Promise>.State { self.machine.state }
    var pendingCount: Int { self.machine.pendingCount }

    // MARK: Commands

    func send(_ bytes: ByteBuffer, discards: Int = 0, promise: Promise) {
        self.eventLoop.assertInEventLoop()
        let deadline = NIODeadline.now() + self.commandTimeout
        switch self.machine.send(bytes, discards: discards, pending: promise, deadline: deadline) {
        case .write(let bytes):
            self.enqueueWrite(bytes)
            self.armTimer(deadline)
        case .queued:
            self.armTimer(deadline)
        case .fail(let promise, let error):
            promise.fail(error)
        }
    }

    /// Writes a command whose answer arrives as pushes (SUBSCRIBE and friends). Only when ready.
    func sendUnanswered(_ bytes: ByteBuffer) -> Bool {
        guard case .write(let bytes) = self.machine.sendUnanswered(bytes) else { return false }
        self.enqueueWrite(bytes)
        return true
    }

    func close() {
        self.context?.close(promise: nil)
        if self.context == nil { self.connectFailed(RedisError(code: .shutdown, address: self.address, message: "closed before connecting")) }
    }

    /// The bootstrap could not connect: the channel never existed.
    func connectFailed(_ error: RedisError) {
        self.finish(error, failing: self.machine.closed(error))
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.start(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard self.machine.state == .connecting else {
            // Closed while the connect was under way.
            if self.machine.state == .closed { context.close(promise: nil) }
            return
        }
        let deadline = NIODeadline.now() + self.commandTimeout
        self.run(self.machine.channelActive(deadline: deadline))
        self.armTimer(deadline)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        var buffer: ByteBuffer
        if var cumulation = self.cumulation {
            self.cumulation = nil
            cumulation.writeBuffer(&incoming)
            buffer = cumulation
        } else {
            buffer = incoming
        }
        while self.machine.state != .closed {
            let value: RESPValue?
            do {
                value = try self.decoder.decode(&buffer)
            } catch {
                self.run(self.machine.fail(RedisError(code: .protocolError, address: self.address, message: "\(error)")))
                return
            }
            guard let value else { break }
            if case .push = value {
                self.onPush?(value)
            } else if self.repliesArePushes {
                self.onPush?(value)
            } else {
                self.run(self.machine.received(value))
            }
        }
        if buffer.readableBytes > 0, self.machine.state != .closed {
            // Keep only the unfinished element; drop what was read once it outweighs it.
            if buffer.readerIndex > 1024 && buffer.readerIndex > buffer.readableBytes { buffer.discardReadBytes() }
            self.cumulation = buffer
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let mapped = RedisConnectionFactory.channelError(error, address: self.address)
        self.run(self.machine.fail(mapped))
    }

    func channelInactive(context: ChannelHandlerContext) {
        let error: RedisError
        if self.decoder.isMidReply || (self.cumulation?.readableBytes ?? 0) > 0 {
            error = RedisError(code: .protocolError, address: self.address, message: "connection closed in the middle of a reply")
        } else if self.machine.state == .handshaking {
            error = RedisError(code: .connectionClosed, address: self.address, message: "connection closed during the handshake")
        } else {
            error = RedisError(code: .connectionClosed, address: self.address, message: "connection closed by the server")
        }
        self.finish(error, failing: self.machine.closed(error))
        context.fireChannelInactive()
    }

    // MARK: Carrying out actions

    private func run(_ action: RedisConnectionStateMachine<Promise>.ReplyAction) {
        switch action {
        case .none:
            break
        case .succeed(let promise, let value):
            promise.succeed(value)
        case .fail(let promise, let error):
            promise.fail(error)
        case .write(let bytes):
            self.enqueueWrite(bytes)
        case .ready(let version, let bytes):
            self.protocolVersion = version
            if let bytes { self.enqueueWrite(bytes) }
            self.onReady?(version)
        case .close(let error, let failing):
            self.finish(error, failing: failing)
            self.context?.close(promise: nil)
        }
    }

    private func finish(_ error: RedisError, failing: [Promise]) {
        self.timer?.cancel()
        self.timer = nil
        self.cumulation = nil
        self.outbound = nil
        let reported = self.closeError ?? error
        for promise in failing { promise.fail(reported) }
        if self.closeError == nil {
            self.closeError = error
            let onClose = self.onClose
            self.onClose = nil
            self.onReady = nil
            onClose?(error)
        }
    }

    private func enqueueWrite(_ bytes: ByteBuffer) {
        // Always a copy into a buffer of the connection's own, so the caller's buffer (the loop's
        // scratch) is free again at once.
        if self.outbound == nil {
            self.outbound = RedisCommand.allocator.buffer(capacity: max(bytes.readableBytes, 4096))
        }
        self.outbound!.writeImmutableBuffer(bytes)
        if !self.flushScheduled, self.context != nil {
            self.flushScheduled = true
            self.eventLoop.assumeIsolated().execute { [self] in
                self.flush()
            }
        }
    }

    private func flush() {
        self.flushScheduled = false
        guard let context = self.context, let bytes = self.outbound else { return }
        self.outbound = nil
        context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
    }

    private func armTimer(_ deadline: NIODeadline) {
        guard self.timer == nil else { return }
        self.timerDeadline = deadline
        self.timer = self.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.timer = nil
            self.timerFired()
        }
    }

    private func timerFired() {
        let action = self.machine.checkTimeouts(now: .now())
        for promise in action.timedOut {
            promise.fail(RedisError(code: .timeout, address: self.address, message: "no reply within \(self.commandTimeout)"))
        }
        if let (error, failing) = action.close {
            self.finish(error, failing: failing)
            self.context?.close(promise: nil)
        } else if let next = action.nextDeadline {
            self.armTimer(next)
        }
    }
}

@available(*, unavailable)
extension RedisConnection: Sendable {}
