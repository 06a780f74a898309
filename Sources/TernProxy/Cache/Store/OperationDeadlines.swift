import NIOCore

/// Bounds every Redis operation of one event loop by the same timeout with one timer, not one
/// `scheduleTask` per operation (which cost a tenth of a Redis-tier hit: a heap insert and a
/// removal each). All operations share the timeout, so their deadlines come in order: a FIFO
/// holds them, and the timer, armed for the oldest, sweeps what has expired or finished and
/// re-arms for the next. Touched only on its loop.
final class OperationDeadlines: @unchecked Sendable {
    /// One operation: whichever comes first, its answer (`finish`) or its deadline, wins.
    final class Operation: @unchecked Sendable {
        let deadline: NIODeadline
        private(set) var finished = false
        private var onTimeout: (() -> Void)?

        init(deadline: NIODeadline, onTimeout: @escaping () -> Void) {
            self.deadline = deadline
            self.onTimeout = onTimeout
        }

        /// True when the answer came before the deadline (the caller completes the operation).
        func finish() -> Bool {
            if self.finished { return false }
            self.finished = true
            self.onTimeout = nil
            return true
        }

        fileprivate func expire() {
            guard !self.finished, let onTimeout = self.onTimeout else { return }
            self.finished = true
            self.onTimeout = nil
            onTimeout()
        }
    }

    let loop: any EventLoop
    let timeout: TimeAmount
    private var pending = CircularBuffer<Operation>()
    private var timer: Scheduled<Void>?

    init(loop: any EventLoop, timeout: TimeAmount) {
        self.loop = loop
        self.timeout = timeout
    }

    /// An operation starting now; `onTimeout` runs on the loop if it has not finished in time.
    func start(onTimeout: @escaping () -> Void) -> Operation {
        self.loop.preconditionInEventLoop()
        let operation = Operation(deadline: self.loop.now + self.timeout, onTimeout: onTimeout)
        self.pending.append(operation)
        if self.timer == nil { self.arm(operation.deadline) }
        return operation
    }

    var count: Int { self.pending.count }

    private func arm(_ deadline: NIODeadline) {
        self.timer = self.loop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.timer = nil
            self.sweep(now: self.loop.now)
        }
    }

    private func sweep(now: NIODeadline) {
        while let first = self.pending.first, first.finished || first.deadline <= now {
            self.pending.removeFirst()
            first.expire()
        }
        if let next = self.pending.first { self.arm(next.deadline) }
    }
}
