/// proxy.conf, parsed and validated: an immutable value built before anything binds. Every part
/// remembers where it was written, so runtime problems (a certificate that will not load, a port
/// in use) can still be reported as `file:line:column`.
public struct ProxyConfiguration: Sendable, Equatable {
    public var listeners: [Listener] = []
    /// Event loops (one thread each); nil: one per core.
    public var workers: Int?
    public var upstreams: [String: Upstream] = [:]
    /// In the order written; the router picks by host, then longest path prefix.
    public var routes: [Route] = []
    /// Status code → Mustache template file replacing the shipped page.
    public var errorPages: [Int: String] = [:]
    public var accessLog: AccessLog = .init()
    public var limits: Limits = .init()
    public var forwarding: Forwarding = .init()
    /// Longest time in-flight requests get after SIGTERM before connections are closed.
    public var shutdownTimeout: Duration = .seconds(30)
    /// The top-level `cache` line; nil: nothing is cached.
    public var cache: Cache?
    /// `purge-allow`: the addresses PURGE is accepted from (403 elsewhere).
    public var purgeAllow: [AddressRange] = AddressRange.loopback
    /// `admin …` and `admin-allow …` (ProxyConfiguration+Admin.swift).
    public var admin: Admin = .init()
    /// `tls-reload-interval 10s|off`: how often certificate and key files are checked for changes.
    public var certificateReloadInterval: Duration? = .seconds(10)

    public init() {}
}

/// A place in a file, for messages: `proxy.conf:12:5`.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(self.file):\(self.line):\(self.column)" }
}

extension ProxyConfiguration {
    /// `listen` takes Twisted-style endpoint strings.
    public struct Listener: Sendable, Equatable {
        public enum Endpoint: Sendable, Equatable {
            /// `tcp:8080` or `tcp:8080:interface=127.0.0.1`
            case tcp(port: Int, interface: String)
            /// `ssl:8443:privateKey=key.pem:certKey=cert.pem[:interface=…]`; more certificates, chosen
            /// by SNI, come from `certificate` lines inside a `listen … { }` block.
            case ssl(port: Int, interface: String, certificates: [Certificate])
            /// `unix:/path/to/socket`
            case unix(path: String)
        }

        public var endpoint: Endpoint
        /// Answer plain HTTP on this listener with a redirect to this HTTPS port (`redirect-https 8443`).
        public var redirectToHTTPSPort: Int?
        /// `allow 127.0.0.1 10.0.0.0/8`: only these clients are served (403 to others); empty: all.
        public var allowedClients: [AddressRange] = []
        public var location: SourceLocation

        public init(endpoint: Endpoint, redirectToHTTPSPort: Int? = nil, location: SourceLocation) {
            self.endpoint = endpoint
            self.redirectToHTTPSPort = redirectToHTTPSPort
            self.location = location
        }
    }

    public struct Certificate: Sendable, Equatable {
        public var certificateChainPath: String
        public var privateKeyPath: String
        public var location: SourceLocation

        public init(certificateChainPath: String, privateKeyPath: String, location: SourceLocation) {
            self.certificateChainPath = certificateChainPath
            self.privateKeyPath = privateKeyPath
            self.location = location
        }
    }

    public struct Upstream: Sendable, Equatable {
        public var name: String
        public var servers: [Server]
        public var balance: Balance = .roundRobin
        public var healthCheck: HealthCheck?
        /// `scheme https` talks TLS to the servers (verified against the system roots, or `ca FILE`).
        public var usesTLS = false
        public var caFile: String?
        public var location: SourceLocation

        public init(name: String, servers: [Server], location: SourceLocation) {
            self.name = name
            self.servers = servers
            self.location = location
        }
    }

    public struct Server: Sendable, Equatable {
        /// `host:port`, `[v6]:port`, or `unix:/path`.
        public var host: String
        public var port: Int
        public var isUnixSocket = false
        public var weight = 1
        /// Passive health: after `maxFails` failures within `failTimeout`, the server is taken out
        /// for `failTimeout` (nginx's `max_fails`/`fail_timeout`).
        public var maxFails = 1
        public var failTimeout: Duration = .seconds(10)
        /// Connections to this server per event loop; nil: the agent's default.
        public var maxConnections: Int?
        public var location: SourceLocation

        public init(host: String, port: Int, location: SourceLocation) {
            self.host = host
            self.port = port
            self.location = location
        }
    }

    public enum Balance: Sendable, Equatable {
        case roundRobin
        case leastConnections
        /// Consistent hashing on the client's address.
        case hashClientAddress
        /// Consistent hashing on a request header's value.
        case hashHeader(String)
    }

    public struct HealthCheck: Sendable, Equatable {
        public var path = "/"
        public var interval: Duration = .seconds(5)
        public var timeout: Duration = .seconds(2)
        public var expectedStatus: ClosedRange<Int> = 200...399
        /// Consecutive results that flip a server's state.
        public var fails = 2
        public var passes = 1

        public init() {}
    }

    public struct Route: Sendable, Equatable {
        public enum HostMatch: Sendable, Equatable {
            case any
            case exact(String)
            /// `*.example.com`: stored as `.example.com`; matches any name ending with it.
            case suffix(String)
        }

        public enum Action: Sendable, Equatable {
            /// Forward to the named upstream (a `proxy http://host:port` line makes an upstream
            /// named after the URL).
            case proxy(upstream: String)
            /// `respond 200 "ok"`: a fixed answer, for health checks.
            case respond(status: Int, body: String)
        }

        public enum HostHeader: Sendable, Equatable {
            /// Pass the client's `Host` on (the default).
            case keep
            /// Use the upstream server's `host:port`.
            case upstream
            case set(String)
        }

        public var host: HostMatch
        /// Starts with `/`.
        public var pathPrefix: String
        public var action: Action
        /// `strip-prefix /v1`: removed from the path before forwarding.
        public var stripPrefix: String?
        /// `rewrite-prefix /old/ /new/`: a leading `/old/` becomes `/new/`.
        public var rewritePrefix: (from: String, to: String)?
        public var requestHeaders: [HeaderRule] = []
        public var responseHeaders: [HeaderRule] = []
        public var hostHeader: HostHeader = .keep
        public var timeouts: Timeouts = .init()
        /// Largest request body accepted (413 past it); nil: `limits.max-body`.
        public var maxBodySize: Int?
        /// `cache off` inside a route (used by the caching issue).
        public var cacheDisabled = false
        public var location: SourceLocation

        public init(host: HostMatch, pathPrefix: String, action: Action, location: SourceLocation) {
            self.host = host
            self.pathPrefix = pathPrefix
            self.action = action
            self.location = location
        }

        public static func == (a: Route, b: Route) -> Bool {
            a.host == b.host && a.pathPrefix == b.pathPrefix && a.action == b.action && a.stripPrefix == b.stripPrefix
                && a.rewritePrefix?.from == b.rewritePrefix?.from && a.rewritePrefix?.to == b.rewritePrefix?.to
                && a.requestHeaders == b.requestHeaders && a.responseHeaders == b.responseHeaders
                && a.hostHeader == b.hostHeader && a.timeouts == b.timeouts && a.maxBodySize == b.maxBodySize
                && a.cacheDisabled == b.cacheDisabled && a.location == b.location
        }
    }

    /// `request-header set X-Env prod`, `request-header add …`, `request-header remove X-Debug`;
    /// likewise `response-header`.
    public enum HeaderRule: Sendable, Equatable {
        case set(name: String, value: String)
        case add(name: String, value: String)
        case remove(name: String)
    }

    public struct Timeouts: Sendable, Equatable {
        /// `timeout connect 5s`
        public var connect: Duration = .seconds(5)
        /// `timeout read 60s`: the longest silence from the upstream.
        public var read: Duration = .seconds(60)
        /// `timeout request 0` (none) or a whole-exchange deadline.
        public var request: Duration? = nil

        public init() {}
    }

    public struct AccessLog: Sendable, Equatable {
        public enum Format: Sendable, Equatable { case combined, json }
        /// nil: off. `-` or `stdout`: standard output.
        public var path: String? = "stdout"
        public var format: Format = .combined

        public init() {}
    }

    /// Bounds on what clients may send (hardening names them all).
    public struct Limits: Sendable, Equatable {
        /// `max-header-size 32k`: the request head (431 past it).
        public var maxHeaderSize = 32 * 1024
        public var maxHeaderCount = 100
        /// `max-uri-length 8k` (414 past it).
        public var maxURILength = 8 * 1024
        /// `max-body 1g` (413 past it); per route with `max-body` inside the route.
        public var maxBodySize = 1 << 30
        /// `header-timeout 10s`: the whole request head must arrive in this time (408).
        public var headerTimeout: Duration = .seconds(10)
        /// `keepalive-timeout 75s`: an idle client connection is closed after it.
        public var keepAliveTimeout: Duration = .seconds(75)
        /// `keepalive-requests 1000`
        public var maxRequestsPerConnection = 1000
        /// `max-connections 10000` per listener.
        public var maxConnections = 10_000
        /// `rate-limit 10r/s burst=20`: requests per client address (429 past it); nil: none.
        public var rateLimit: RateLimit?

        public init() {}
    }

    /// A token bucket per client address: `burst` requests at once, then `requestsPerSecond`.
    /// Kept in Redis when the cache is there (shared by the proxies that share the cache), unless
    /// `local`.
    public struct RateLimit: Sendable, Equatable {
        public var requestsPerSecond: Double
        public var burst: Int
        /// `rate-limit 10r/s local`: this process's own buckets even when the cache is in Redis.
        public var local: Bool

        public init(requestsPerSecond: Double, burst: Int, local: Bool = false) {
            self.requestsPerSecond = requestsPerSecond
            self.burst = burst
            self.local = local
        }
    }

    public struct Forwarding: Sendable, Equatable {
        /// `x-forwarded on|off`: replace client-sent `X-Forwarded-For/-Proto/-Host` with ours.
        public var xForwarded = true
        /// `via on|off`: add `Via: 1.1 tern`.
        public var via = true

        public init() {}
    }
}
