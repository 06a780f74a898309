import CoreMetrics
import NIOCore
import Prometheus

/// The process's metrics registry, shown by the admin listener's `/metrics`. `MetricsSystem` may
/// be bootstrapped once per process: the first proxy with an `admin` line does it, with this
/// registry, so the agent's pool figures (swift-metrics, `tern_client_*`) land here too; later
/// proxies in the same process share it.
public enum ProxyMetricsRegistry {
    public static let shared = PrometheusCollectorRegistry()

    private static let bootstrapped: Bool = {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: ProxyMetricsRegistry.shared))
        return true
    }()

    /// Idempotent and thread-safe (a `static let` is initialized once).
    static func bootstrapOnce() { _ = Self.bootstrapped }

    static var requests: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "tern", subsystem: "proxy", metricName: "requests", unitName: "total",
        helpText: "Requests answered, by route and status class."
    ) }
    static var upstreamResponse: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "tern", subsystem: "proxy", metricName: "upstream_response", unitName: "seconds",
        helpText: "Time from the start of a request to the upstream's response head, by upstream."
    ) }
    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
}

/// Per-request figures of one event loop, touched only there. Counters and histograms are made
/// once per route (and status class) or upstream and kept, so recording a request is an array
/// index and an atomic add: no strings, no lock of ours. The tables are dropped when a reload
/// brings a new configuration generation.
final class LoopMetrics {
    private let registry: PrometheusCollectorRegistry
    private var generation = -1
    /// Per route: counters for 1xx…5xx, and [0] for anything else.
    private var routes: [ObjectIdentifier: [Prometheus.Counter]] = [:]
    private var unrouted: [Prometheus.Counter]
    private var upstreams: [ObjectIdentifier: DurationHistogram] = [:]

    init(registry: PrometheusCollectorRegistry = ProxyMetricsRegistry.shared) {
        self.registry = registry
        self.unrouted = Self.counters(registry, route: "none")
    }

    private static func counters(_ registry: PrometheusCollectorRegistry, route: String) -> [Prometheus.Counter] {
        ["other", "1xx", "2xx", "3xx", "4xx", "5xx"].map {
            registry.makeCounter(descriptor: ProxyMetricsRegistry.requests, labels: [("route", route), ("status", $0)])
        }
    }

    private func checkGeneration(_ generation: Int) {
        if generation != self.generation {
            self.generation = generation
            self.routes.removeAll(keepingCapacity: true)
            self.upstreams.removeAll(keepingCapacity: true)
        }
    }

    func recordRequest(route: CompiledRoute?, generation: Int, status: UInt) {
        self.checkGeneration(generation)
        let counters: [Prometheus.Counter]
        if let route {
            let key = ObjectIdentifier(route)
            if let known = self.routes[key] {
                counters = known
            } else {
                counters = Self.counters(self.registry, route: route.metricLabel)
                self.routes[key] = counters
            }
        } else {
            counters = self.unrouted
        }
        let statusClass = Int(status / 100)
        counters[(1...5).contains(statusClass) ? statusClass : 0].increment()
    }

    func recordUpstreamResponse(group: UpstreamGroup, generation: Int, nanoseconds: Int64) {
        self.checkGeneration(generation)
        let key = ObjectIdentifier(group)
        let histogram: DurationHistogram
        if let known = self.upstreams[key] {
            histogram = known
        } else {
            histogram = self.registry.makeDurationHistogram(
                descriptor: ProxyMetricsRegistry.upstreamResponse, labels: [("upstream", group.name)],
                buckets: ProxyMetricsRegistry.latencyBuckets
            )
            self.upstreams[key] = histogram
        }
        histogram.record(.nanoseconds(nanoseconds))
    }
}

@available(*, unavailable)
extension LoopMetrics: Sendable {}

extension CompiledRoute {
    /// `example.com/api`, `*.example.com/`, `/`: how the route was written.
    var metricLabel: String {
        switch self.config.host {
        case .any: return self.config.pathPrefix
        case .exact(let host): return host + self.config.pathPrefix
        case .suffix(let suffix): return "*" + suffix + self.config.pathPrefix
        }
    }
}
