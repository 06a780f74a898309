import Metrics
import NIOCore

/// Pool figures per origin through swift-metrics: connections open, in use and idle, waiters, and
/// the time spent waiting for a connection. Gauges are written only when a figure changes.
/// A class its pool holds in a `let`: a struct held in a `var` was copied whole to call `waited`,
/// a retain and a release for each of its six metrics, on every lease.
final class PoolMetrics {
    private let open: Gauge
    private let leased: Gauge
    private let idle: Gauge
    private let waiters: Gauge
    private let opened: Counter
    private let waitTime: Timer
    private var last = (open: -1, leased: -1, idle: -1, waiters: -1)
    /// False when the metrics were made by swift-metrics' no-op factory (no backend was bootstrapped
    /// when the pool was made). A metric keeps the handler it was made with, so none of these would
    /// ever record anything: the pool skips the calls (a wait time and two gauges per request).
    let records: Bool

    init(origin: Origin, factory: any MetricsFactory = MetricsSystem.factory) {
        self.records = !(factory is NOOPMetricsHandler)
        let dimensions = [("origin", origin.description)]
        self.open = Gauge(label: "tern_client_connections_open", dimensions: dimensions, factory: factory)
        self.leased = Gauge(label: "tern_client_connections_in_use", dimensions: dimensions, factory: factory)
        self.idle = Gauge(label: "tern_client_connections_idle", dimensions: dimensions, factory: factory)
        self.waiters = Gauge(label: "tern_client_pool_waiters", dimensions: dimensions, factory: factory)
        self.opened = Counter(label: "tern_client_connections_opened_total", dimensions: dimensions, factory: factory)
        self.waitTime = Timer(label: "tern_client_pool_wait_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds, factory: factory)
    }

    func update(open: Int, leased: Int, idle: Int, waiters: Int) {
        guard self.records else { return }
        if open != self.last.open { self.open.record(open) }
        if leased != self.last.leased { self.leased.record(leased) }
        if idle != self.last.idle { self.idle.record(idle) }
        if waiters != self.last.waiters { self.waiters.record(waiters) }
        self.last = (open, leased, idle, waiters)
    }

    func connectionOpened() {
        if self.records { self.opened.increment() }
    }

    func waited(_ time: TimeAmount) {
        if self.records { self.waitTime.recordNanoseconds(time.nanoseconds) }
    }
}
