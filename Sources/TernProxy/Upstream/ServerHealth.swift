import NIOCore
import Synchronization

/// The health of one upstream server, shared by every event loop. Passive health follows nginx's
/// `max_fails`/`fail_timeout`: `maxFails` failures within `failTimeout` take the server out for
/// `failTimeout`. Active checks set `checkedDown`. Reading it on the request path is two relaxed
/// atomic loads, and a clock read only while a passive mark-down stands.
final class ServerHealth: Sendable {
    private let downUntil = Atomic<Int64>(0)
    private let checkedDown = Atomic<Bool>(false)
    private let failures = Mutex<(count: Int, windowStart: Int64)>((0, 0))
    private let hasFailures = Atomic<Bool>(false)
    let maxFails: Int
    let failTimeout: Int64

    init(maxFails: Int, failTimeout: Duration) {
        self.maxFails = maxFails
        self.failTimeout = failTimeout.nanoseconds
    }

    func isUp() -> Bool {
        if self.checkedDown.load(ordering: .relaxed) { return false }
        let until = self.downUntil.load(ordering: .relaxed)
        if until == 0 { return true }
        if until > Int64(NIODeadline.now().uptimeNanoseconds) { return false }
        // The mark-down has run out: cleared, so that later picks need no clock (unless another
        // loop has marked the server down again meanwhile).
        _ = self.downUntil.compareExchange(expected: until, desired: 0, ordering: .relaxed)
        return true
    }

    func recordFailure(now: NIODeadline) {
        guard self.maxFails > 0 else { return }  // `max-fails=0`: passive health off, as in nginx
        let now = Int64(now.uptimeNanoseconds)
        self.hasFailures.store(true, ordering: .relaxed)
        let markDown = self.failures.withLock { state -> Bool in
            if now - state.windowStart > self.failTimeout { state = (0, now) }
            state.count += 1
            if state.count >= self.maxFails {
                state = (0, now)
                return true
            }
            return false
        }
        if markDown { self.downUntil.store(now + self.failTimeout, ordering: .relaxed) }
    }

    func recordSuccess() {
        guard self.hasFailures.load(ordering: .relaxed) else { return }
        self.hasFailures.store(false, ordering: .relaxed)
        self.failures.withLock { $0 = (0, 0) }
    }

    /// The verdict of the active health check.
    func setChecked(up: Bool) {
        self.checkedDown.store(!up, ordering: .relaxed)
        if up { self.downUntil.store(0, ordering: .relaxed) }
    }

    var isCheckedDown: Bool { self.checkedDown.load(ordering: .relaxed) }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var timeAmount: TimeAmount { .nanoseconds(self.nanoseconds) }
}
