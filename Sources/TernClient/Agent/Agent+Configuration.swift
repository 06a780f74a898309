import NIOCore

extension Agent {
    /// Everything the agent bounds, with defaults that suit both a REST client and a proxy.
    public struct Configuration: Sendable {
        /// Connections kept per origin on each event loop. The default does not throttle 64 concurrent
        /// requests from one loop (AsyncHTTPClient's 8 is a known complaint).
        public var maxConnectionsPerOrigin: Int = 64
        /// Requests that may queue for a connection per origin on each event loop; beyond it a
        /// request fails at once with `.tooManyWaiters`.
        public var maxWaitersPerOrigin: Int = 4096
        /// How long a request may wait for a connection from the pool.
        public var poolWaitTimeout: TimeAmount = .seconds(30)
        /// How long an idle keep-alive connection is kept. A server's `Keep-Alive: timeout=` hint
        /// shortens it, so the agent closes first instead of racing the server's close.
        public var idleTimeout: TimeAmount = .seconds(60)
        public var connectTimeout: TimeAmount = .seconds(10)
        public var tlsHandshakeTimeout: TimeAmount = .seconds(10)
        /// The longest silence from the server while a response is awaited or read; nil: none.
        public var readTimeout: TimeAmount? = .seconds(60)
        /// The default whole-request deadline (head and body); nil: none.
        public var requestTimeout: TimeAmount? = nil
        public var redirects: RedirectPolicy = .follow(max: 10)
        public var decompression: Decompression = .enabled(limit: 256 << 20)
        public var tls: TLSSettings = TLSSettings()
        /// Retry, once and on a fresh connection, an idempotent request that failed on a reused
        /// connection before any response byte arrived (RFC 9112 §9.3.1).
        public var retryStaleConnections: Bool = true
        /// Sent as `User-Agent` unless the request sets one; nil sends none.
        public var userAgent: String? = "tern/\(ternVersion)"
        /// Largest response head (status line and fields) accepted.
        public var maxResponseHeadSize: Int = 80 * 1024

        public init() {}
    }
}

/// Which redirects the agent follows on its own.
public enum RedirectPolicy: Sendable, Hashable {
    /// 3xx responses are returned to the caller as they are.
    case disabled
    /// Follow up to `max` redirects (RFC 9110 §15.4), then fail with `.tooManyRedirects`.
    case follow(max: Int)
}

/// Whether `gzip` and `deflate` response bodies are decompressed, and up to how many bytes.
public enum Decompression: Sendable, Hashable {
    case disabled
    /// Decompress, failing with `.decompressionFailed` past `limit` decompressed bytes.
    case enabled(limit: Int)
}

public let ternVersion = "0.1.0"
