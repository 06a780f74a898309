import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Bulk receive: while a long `Content-Length` body arrives faster than the loop reads it, the
/// socket's receive low-water mark (`SO_RCVLOWAT`) is raised to `mark`, so that the event loop
/// wakes once per `mark` bytes or so rather than once per segment or two, and hands the body to
/// the consumer's thread as often. Those wake-ups (context switches, `epoll_wait`, futexes) were
/// most of what the agent spent on a 16 MiB download above a bare `recv` loop.
///
/// Nothing waits on it longer than it must:
/// - raised only after a read cycle brought at least `bulkCycle` bytes (data is queueing up),
///   and only while at least twice `mark` is still to come, so the end of the body is read as
///   it arrives and the next response's head is never held back;
/// - checked every `checkInterval` while raised: a check that finds no read since the last one
///   lowers it again, and Linux then wakes the loop at once for what has arrived. A body that
///   stalls reaches its reader at most about two intervals (20 ms) late, well within any read
///   timeout one would set;
/// - the kernel wakes the reader anyway when the receive window is nearly closed, so a mark the
///   window cannot hold never stalls the sender (Linux's `tcp_epollin_ready`).
///
/// Linux TCP only: there the mark governs `epoll` readiness with those escapes, and that is what
/// was measured. On other systems, and on Unix domain sockets, it is never raised.
struct BulkReceive {
    static let mark = 256 * 1024
    static let bulkCycle = 64 * 1024
    static let checkInterval = TimeAmount.milliseconds(10)

    /// Whether the mark is raised now.
    private var raised = false
    /// Bytes read in the read cycle under way.
    private var cycleBytes = 0
    /// Whether a read came since the last check.
    private var readSinceCheck = false
    private var check: Scheduled<Void>?

    /// Counts a read's bytes (called for every read).
    @inline(__always)
    mutating func read(_ count: Int) {
        self.cycleBytes &+= count
        self.readSinceCheck = true
    }

    /// At the end of a read cycle: raises the mark, or lowers it, for what is still to come.
    /// `remaining` is the body bytes still expected (nil unless a `Content-Length` body is under way).
    /// Returns whether a check must be scheduled (the mark was just raised). The channel is read
    /// from `context` only to set the option: most cycles set nothing, and each read of
    /// `context.channel` retains it.
    mutating func cycleEnded(remaining: Int?, context: ChannelHandlerContext) -> Bool {
        defer { self.cycleBytes = 0 }
        let long = (remaining ?? 0) >= 2 * Self.mark
        if self.raised {
            if !long { self.lower(context.channel) }
            return false
        }
        guard long, self.cycleBytes >= Self.bulkCycle, Self.set(Self.mark, on: context.channel) else { return false }
        self.raised = true
        self.readSinceCheck = false
        return self.check == nil
    }

    /// A check fired: lowers the mark if nothing was read since the last one. Returns whether to
    /// check again.
    mutating func checked(channel: any Channel) -> Bool {
        self.check = nil
        guard self.raised else { return false }
        if !self.readSinceCheck {
            self.lower(channel)
            return false
        }
        self.readSinceCheck = false
        return true
    }

    mutating func scheduled(_ check: Scheduled<Void>) {
        self.check = check
    }

    /// The connection closed: no more checks (and no system call on a closed socket).
    mutating func stop() {
        self.check?.cancel()
        self.check = nil
        self.raised = false
    }

    /// Back to the socket's default (a byte), and no more checks.
    mutating func lower(_ channel: any Channel) {
        self.check?.cancel()
        self.check = nil
        guard self.raised else { return }
        self.raised = false
        _ = Self.set(1, on: channel)
    }

    /// Sets `SO_RCVLOWAT` on a TCP socket channel; false when the channel has no such option.
    private static func set(_ value: Int, on channel: any Channel) -> Bool {
        #if os(Linux)
        guard let options = channel.syncOptions else { return false }
        if case .unixDomainSocket = channel.localAddress { return false }
        let option = ChannelOptions.Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_RCVLOWAT))
        do {
            try options.setOption(option, value: SocketOptionValue(value))
            return true
        } catch {
            return false
        }
        #else
        return false
        #endif
    }
}
