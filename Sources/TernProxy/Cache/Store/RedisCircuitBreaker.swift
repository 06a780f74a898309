import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore

/// Keeps a Redis that is down or slow from costing every request a timeout. After a failure the
/// breaker opens: for `baseDelay` operations fail at once without touching Redis; then one
/// operation (the probe) is let through. Its success closes the breaker; its failure opens it
/// again for twice as long, up to `maxDelay`. Every failure is counted
/// (`tern_cache_store_errors_total{store="redis"}`) and logged, at most one line per second.
final class RedisCircuitBreaker: Sendable {
    enum Decision: Equatable {
        case allow
        /// Fail at once; the text says why (the last error).
        case reject(String)
    }

    private struct State {
        var openUntil: NIODeadline?
        var nextDelay: TimeAmount
        var probing = false
        var lastError = ""
        var lastLog: NIODeadline?
        var unlogged = 0
    }

    let baseDelay: TimeAmount
    let maxDelay: TimeAmount
    private let state: NIOLockedValueBox<State>
    private let errors: Counter
    private let logger: Logger

    /// `metricsFactory`: where the error counter goes; the global `MetricsSystem` when nil.
    init(baseDelay: TimeAmount = .seconds(1), maxDelay: TimeAmount = .seconds(10), logger: Logger, metricsFactory: (any MetricsFactory)? = nil) {
        self.baseDelay = baseDelay
        self.maxDelay = max(maxDelay, baseDelay)
        self.state = NIOLockedValueBox(State(nextDelay: baseDelay))
        let label = "tern_cache_store_errors_total"
        let dimensions = [("store", "redis")]
        if let metricsFactory {
            self.errors = Counter(label: label, dimensions: dimensions, factory: metricsFactory)
        } else {
            self.errors = Counter(label: label, dimensions: dimensions)
        }
        self.logger = logger
    }

    /// Whether an operation may go to Redis now.
    func admit(now: NIODeadline = .now()) -> Decision {
        self.state.withLockedValue { state in
            guard let until = state.openUntil else { return .allow }
            if state.probing || now < until { return .reject(state.lastError) }
            state.probing = true
            return .allow
        }
    }

    /// Whether operations fail fast now.
    var isOpen: Bool { self.state.withLockedValue { $0.openUntil != nil } }

    /// Redis answered: close the breaker.
    func succeeded() {
        let reopened = self.state.withLockedValue { state -> Bool in
            guard state.openUntil != nil else { return false }
            state.openUntil = nil
            state.probing = false
            state.nextDelay = self.baseDelay
            return true
        }
        if reopened { self.logger.notice("redis cache store answers again; caching resumes") }
    }

    /// An operation failed. `outage`: Redis is unreachable, slow or refusing (opens the breaker);
    /// otherwise (corrupt data) the failure is only counted and logged.
    func failed(_ error: CacheStoreError, outage: Bool, now: NIODeadline = .now()) {
        self.errors.increment()
        let log = self.state.withLockedValue { state -> (Int, TimeAmount?)? in
            var opened: TimeAmount?
            if outage {
                state.lastError = error.description
                if state.openUntil == nil || state.probing {
                    let delay = state.openUntil == nil ? self.baseDelay : state.nextDelay
                    state.openUntil = now + delay
                    state.nextDelay = min(delay + delay, self.maxDelay)
                    state.probing = false
                    opened = delay
                }
            }
            if let last = state.lastLog, now - last < .seconds(1) {
                state.unlogged += 1
                return nil
            }
            state.lastLog = now
            defer { state.unlogged = 0 }
            return (state.unlogged, opened)
        }
        guard let (unlogged, opened) = log else { return }
        var metadata: Logger.Metadata = ["cache.error": "\(error)"]
        if unlogged > 0 { metadata["cache.errors_not_logged"] = "\(unlogged)" }
        if let opened { metadata["cache.fail_fast_ms"] = "\(opened.nanoseconds / 1_000_000)" }
        self.logger.warning("redis cache store failed; requests are served as misses", metadata: metadata)
    }
}
