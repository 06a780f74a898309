import NIOCore

/// One Redis connection as a pure value: the handshake, the first-in first-out queue of commands
/// in flight, timeouts and closing. Replies come back in the order commands went out (the RESP
/// pipelining contract), so the reply at the front always belongs to the oldest entry. Every
/// event returns what the shell (`RedisConnection`) must do; the machine holds no channel,
/// timer or clock. `Pending` is what the shell completes with a reply (a promise; an `Int` in tests).
///
/// States: `connecting → handshaking → ready → closed`. Commands sent before `ready` wait in
/// `queued` and go out together when the handshake is done; `closed` is final.
struct RedisConnectionStateMachine<Pending> {
    enum State: Equatable {
        case connecting
        case handshaking
        case ready
        case closed
    }

    enum Owner {
        case user(Pending)
        /// A handshake command: its reply goes to the handshake.
        case handshake
        /// A reply nobody waits for: `ASKING`'s, or a command that timed out.
        case discard
    }

    struct Entry {
        var owner: Owner
        var deadline: NIODeadline
    }

    private struct Queued {
        var bytes: ByteBuffer
        var discards: Int
        var entry: Entry
    }

    enum SendAction {
        case write(ByteBuffer)
        /// Held until the handshake is done.
        case queued
        case fail(Pending, RedisError)
    }

    enum ReplyAction {
        case none
        case succeed(Pending, RESPValue)
        case fail(Pending, RedisError)
        /// The next handshake command.
        case write(ByteBuffer)
        /// The handshake is done; write the commands that waited for it (if any).
        case ready(RedisConfiguration.ProtocolVersion, write: ByteBuffer?)
        /// Close the channel; the commands listed fail with the error.
        case close(RedisError, failing: [Pending])
    }

    struct TimeoutAction {
        var timedOut: [Pending] = []
        /// The oldest command timed out: the connection is stuck. Close it, failing these.
        var close: (error: RedisError, failing: [Pending])?
        /// When to look again.
        var nextDeadline: NIODeadline?
    }

    let address: String
    let maxPending: Int
    private(set) var state = State.connecting
    private var handshake: RedisHandshake
    private var inFlight = CircularBuffer<Entry>(initialCapacity: 16)
    private var queued = CircularBuffer<Queued>()
    /// The user commands in flight or queued.
    private(set) var pendingCount = 0

    init(handshake: RedisHandshake, address: String, maxPending: Int) {
        self.handshake = handshake
        self.address = address
        self.maxPending = maxPending
    }

    var inFlightCount: Int { self.inFlight.count }

    // MARK: Lifecycle

    /// The channel is connected: start the handshake.
    mutating func channelActive(deadline: NIODeadline) -> ReplyAction {
        guard self.state == .connecting else { return .none }
        self.state = .handshaking
        return self.handshakeStep(self.handshake.start(), deadline: deadline)
    }

    /// The channel closed, or never opened. Every command not yet answered fails.
    mutating func closed(_ error: RedisError) -> [Pending] {
        guard self.state != .closed else { return [] }
        self.state = .closed
        return self.drain()
    }

    // MARK: Commands

    /// A user command. `discards` replies before its own are thrown away (`ASKING`'s).
    mutating func send(_ bytes: ByteBuffer, discards: Int = 0, pending: Pending, deadline: NIODeadline) -> SendAction {
        switch self.state {
        case .closed:
            return .fail(pending, RedisError(code: .connectionClosed, address: self.address, message: "connection closed"))
        case _ where self.pendingCount >= self.maxPending:
            return .fail(pending, RedisError(code: .tooManyPending, address: self.address, message: "\(self.maxPending) commands in flight"))
        case .connecting, .handshaking:
            self.pendingCount += 1
            self.queued.append(Queued(bytes: bytes, discards: discards, entry: Entry(owner: .user(pending), deadline: deadline)))
            return .queued
        case .ready:
            self.pendingCount += 1
            for _ in 0..<discards { self.inFlight.append(Entry(owner: .discard, deadline: deadline)) }
            self.inFlight.append(Entry(owner: .user(pending), deadline: deadline))
            return .write(bytes)
        }
    }

    /// A command whose reply nobody reads (pub/sub subscriptions answer with pushes).
    mutating func sendUnanswered(_ bytes: ByteBuffer) -> SendAction? {
        self.state == .ready ? .write(bytes) : nil
    }

    // MARK: Replies

    mutating func received(_ reply: RESPValue) -> ReplyAction {
        guard self.state == .handshaking || self.state == .ready else { return .none }
        guard let entry = self.inFlight.popFirst() else {
            return self.fail(RedisError(code: .protocolError, address: self.address, message: "a reply with no command in flight"))
        }
        switch entry.owner {
        case .discard:
            return .none
        case .handshake:
            return self.handshakeStep(self.handshake.received(reply), deadline: entry.deadline)
        case .user(let pending):
            self.pendingCount -= 1
            if case .error(let message) = reply {
                return .fail(pending, RedisError.server(String(buffer: message), address: self.address))
            }
            return .succeed(pending, reply)
        }
    }

    /// The bytes from the server are not RESP: close, failing everything.
    mutating func fail(_ error: RedisError) -> ReplyAction {
        guard self.state != .closed else { return .none }
        self.state = .closed
        return .close(error, failing: self.drain())
    }

    // MARK: Timeouts

    mutating func checkTimeouts(now: NIODeadline) -> TimeoutAction {
        var action = TimeoutAction()
        guard self.state != .closed else { return action }
        if let head = self.inFlight.first, head.deadline <= now {
            // Every reply behind the oldest is stuck behind it: the connection is of no more use.
            var timedOut: [Pending] = []
            var rest: [Pending] = []
            self.state = .closed
            if self.inFlight.contains(where: { if case .handshake = $0.owner { return true } else { return false } }) {
                action.close = (RedisError(code: .timeout, address: self.address, message: "handshake timed out"), self.drain())
                return action
            }
            for entry in self.inFlight {
                if case .user(let pending) = entry.owner {
                    if entry.deadline <= now { timedOut.append(pending) } else { rest.append(pending) }
                }
            }
            for queued in self.queued {
                if case .user(let pending) = queued.entry.owner { rest.append(pending) }
            }
            self.inFlight.removeAll()
            self.queued.removeAll()
            self.pendingCount = 0
            action.timedOut = timedOut
            action.close = (RedisError(code: .connectionClosed, address: self.address, message: "closed after a command timed out"), rest)
            return action
        }
        var next: NIODeadline?
        for index in self.inFlight.indices {
            let entry = self.inFlight[index]
            guard case .user(let pending) = entry.owner else { continue }
            if entry.deadline <= now {
                action.timedOut.append(pending)
                self.inFlight[index].owner = .discard
                self.pendingCount -= 1
            } else if next == nil || entry.deadline < next! {
                next = entry.deadline
            }
        }
        var kept = CircularBuffer<Queued>()
        while let queued = self.queued.popFirst() {
            guard case .user(let pending) = queued.entry.owner else { continue }
            if queued.entry.deadline <= now {
                action.timedOut.append(pending)
                self.pendingCount -= 1
            } else {
                if next == nil || queued.entry.deadline < next! { next = queued.entry.deadline }
                kept.append(queued)
            }
        }
        self.queued = kept
        if let handshakeDeadline = self.inFlight.first?.deadline, next == nil || handshakeDeadline < next! {
            next = handshakeDeadline
        }
        action.nextDeadline = next
        return action
    }

    // MARK: Helpers

    private mutating func handshakeStep(_ step: RedisHandshake.Step, deadline: NIODeadline) -> ReplyAction {
        switch step {
        case .send(let bytes):
            self.inFlight.append(Entry(owner: .handshake, deadline: deadline))
            return .write(bytes)
        case .fail(let error):
            return self.fail(error)
        case .done(let version):
            self.state = .ready
            guard !self.queued.isEmpty else { return .ready(version, write: nil) }
            var size = 0
            for queued in self.queued { size += queued.bytes.readableBytes }
            var out = RedisCommand.allocator.buffer(capacity: size)
            while let queued = self.queued.popFirst() {
                out.writeImmutableBuffer(queued.bytes)
                for _ in 0..<queued.discards { self.inFlight.append(Entry(owner: .discard, deadline: queued.entry.deadline)) }
                self.inFlight.append(queued.entry)
            }
            return .ready(version, write: out)
        }
    }

    private mutating func drain() -> [Pending] {
        var pendings: [Pending] = []
        pendings.reserveCapacity(self.pendingCount)
        for entry in self.inFlight {
            if case .user(let pending) = entry.owner { pendings.append(pending) }
        }
        for queued in self.queued {
            if case .user(let pending) = queued.entry.owner { pendings.append(pending) }
        }
        self.inFlight.removeAll()
        self.queued.removeAll()
        self.pendingCount = 0
        return pendings
    }
}
