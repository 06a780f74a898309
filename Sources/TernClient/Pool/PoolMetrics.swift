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

    init(origin: Origin) {
        let dimensions = [("origin", origin.description)]
        self.open = Gauge(label: "tern_client_connections_open", dimensions: dimensions)
        self.leased = Gauge(label: "tern_client_connections_in_use", dimensions: dimensions)
        self.idle = Gauge(label: "tern_client_connections_idle", dimensions: dimensions)
        self.waiters = Gauge(label: "tern_client_pool_waiters", dimensions: dimensions)
        self.opened = Counter(label: "tern_client_connections_opened_total", dimensions: dimensions)
        self.waitTime = Timer(label: "tern_client_pool_wait_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
    }

    func update(open: Int, leased: Int, idle: Int, waiters: Int) {
        if open != self.last.open { self.open.record(open) }
        if leased != self.last.leased { self.leased.record(leased) }
        if idle != self.last.idle { self.idle.record(idle) }
        if waiters != self.last.waiters { self.waiters.record(waiters) }
        self.last = (open, leased, idle, waiters)
    }

    func connectionOpened() { self.opened.increment() }

    func waited(_ time: TimeAmount) { self.waitTime.recordNanoseconds(time.nanoseconds) }
}
