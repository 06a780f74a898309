#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import TernClient

/// One loaded configuration, compiled for the request path: the router, the upstream groups,
/// the rendered pages. Immutable; a reload builds a new one and swaps it in, and requests already
/// under way finish with the one they started with.
final class ProxyRuntime: Sendable {
    let configuration: ProxyConfiguration
    let router: Router<CompiledRoute>
    let upstreams: [String: UpstreamGroup]
    let pages: ErrorPages
    /// Distinguishes reloads, so per-loop state built for an older runtime is dropped.
    let generation: Int

    init(_ configuration: ProxyConfiguration, generation: Int) throws {
        self.configuration = configuration
        self.generation = generation
        var upstreams: [String: UpstreamGroup] = [:]
        for (name, upstream) in configuration.upstreams { upstreams[name] = UpstreamGroup(upstream) }
        self.upstreams = upstreams
        self.router = Router(
            configuration.routes.map { route in
                (route.host, route.pathPrefix, CompiledRoute(route, upstreams: upstreams, limits: configuration.limits))
            }
        )
        self.pages = try ErrorPages(overrides: configuration.errorPages)
    }
}

/// A route ready for the request path.
final class CompiledRoute: Sendable {
    let config: ProxyConfiguration.Route
    let upstream: UpstreamGroup?
    let fixedStatus: HTTPResponseStatus?
    let fixedBody: ByteBuffer?
    let maxBodySize: Int
    let connectTimeout: TimeAmount
    let readTimeout: TimeAmount
    let requestTimeout: TimeAmount?
    // Read from `config` once, for every request to read as plain values: reading them from
    // `config` itself made each request copy the route's configuration (strings and arrays, a
    // retain and a release apiece) around the calls that took it.

    /// The route has request header rules (`request-header`).
    let rewritesRequestFields: Bool
    /// The route has response header rules (`response-header`).
    let rewritesResponseFields: Bool
    /// `host-header keep` (the default): the client's `Host` goes upstream.
    let keepsHost: Bool
    /// `host-header upstream`: the chosen server's `host:port`.
    let hostFromUpstream: Bool
    /// `cache off` in the route.
    let cacheDisabled: Bool

    init(_ config: ProxyConfiguration.Route, upstreams: [String: UpstreamGroup], limits: ProxyConfiguration.Limits) {
        self.config = config
        switch config.action {
        case .proxy(let name):
            self.upstream = upstreams[name]
            self.fixedStatus = nil
            self.fixedBody = nil
        case .respond(let status, let body):
            self.upstream = nil
            self.fixedStatus = HTTPResponseStatus(statusCode: status)
            self.fixedBody = ByteBuffer(string: body)
        }
        self.maxBodySize = config.maxBodySize ?? limits.maxBodySize
        self.connectTimeout = config.timeouts.connect.timeAmount
        self.readTimeout = config.timeouts.read.timeAmount
        self.requestTimeout = config.timeouts.request?.timeAmount
        self.rewritesRequestFields = !config.requestHeaders.isEmpty
        self.rewritesResponseFields = !config.responseHeaders.isEmpty
        self.keepsHost = config.hostHeader == .keep
        self.hostFromUpstream = config.hostHeader == .upstream
        self.cacheDisabled = config.cacheDisabled
    }

    /// The upstream request target: `strip-prefix` and `rewrite-prefix` applied.
    func upstreamURI(_ uri: String) -> String {
        if let strip = self.config.stripPrefix, uri.hasPrefix(strip) {
            let rest = uri.dropFirst(strip.count)
            return rest.first == "/" ? String(rest) : "/" + rest
        }
        if let rewrite = self.config.rewritePrefix, uri.hasPrefix(rewrite.from) {
            return rewrite.to + uri.dropFirst(rewrite.from.count)
        }
        return uri
    }
}

/// What each event loop keeps for itself: the runtime in force (a reload hands each loop the new
/// one, so requests read it without a lock), balancers per upstream of that runtime, the cached
/// `Date` header, and the access-log buffer. Touched only on its loop.
final class LoopState: @unchecked Sendable {
    let eventLoop: any EventLoop
    var runtime: ProxyRuntime
    private var generation = -1
    private var balancers: [ObjectIdentifier: LoopBalancer] = [:]
    /// The balancer asked for last: a proxy in front of one service asks for the same one every
    /// time, and comparing with it costs less than hashing the group's identifier for the table.
    private var lastBalancer: LoopBalancer?
    let dateCache = DateCache()
    let accessLog: AccessLogWriter?
    let cache: ProxyCache?
    /// Set when the proxy has an admin listener (Admin/ProxyMetrics.swift).
    var metrics: LoopMetrics?

    init(eventLoop: any EventLoop, runtime: ProxyRuntime, accessLog: AccessLogWriter?, cache: ProxyCache? = nil) {
        self.eventLoop = eventLoop
        self.runtime = runtime
        self.accessLog = accessLog
        self.cache = cache
    }

    func balancer(for group: UpstreamGroup, generation: Int) -> LoopBalancer {
        if generation != self.generation {
            self.generation = generation
            self.balancers.removeAll(keepingCapacity: true)
            self.lastBalancer = nil
        }
        if let last = self.lastBalancer, last.group === group { return last }
        let key = ObjectIdentifier(group)
        let balancer: LoopBalancer
        if let found = self.balancers[key] {
            balancer = found
        } else {
            balancer = LoopBalancer(group: group)
            self.balancers[key] = balancer
        }
        self.lastBalancer = balancer
        return balancer
    }
}

/// The `Date` header value (RFC 9110 §6.6.1), formatted once per second.
final class DateCache {
    private var second: Int = -1
    private var value = ""
    private var logLocal = ""
    private var logISO = ""

    var current: String {
        self.refresh()
        return self.value
    }

    /// The access log's times of this second: nginx's `$time_local` (in UTC, `02/Dec/2026:17:18:22
    /// +0000`) for the combined format, `$time_iso8601` (`2026-12-02T17:18:22+00:00`) for JSON.
    var logTimes: (local: String, iso8601: String) {
        self.refresh()
        return (self.logLocal, self.logISO)
    }

    private func refresh() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        if now.tv_sec != self.second {
            self.second = now.tv_sec
            self.value = Self.format(now.tv_sec)
            (self.logLocal, self.logISO) = Self.formatLogTimes(now.tv_sec)
        }
    }

    static func formatLogTimes(_ seconds: Int) -> (local: String, iso8601: String) {
        var time = seconds
        var parts = tm()
        gmtime_r(&time, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let year = parts.tm_year + 1900
        let clock = "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        return (
            "\(two(parts.tm_mday))/\(months[Int(parts.tm_mon)])/\(year):\(clock) +0000",
            "\(year)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(clock)+00:00"
        )
    }

    static func format(_ seconds: Int) -> String {
        var time = seconds
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
