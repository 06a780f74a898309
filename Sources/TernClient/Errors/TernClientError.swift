/// Every failure of the agent is a `TernClientError`: what went wrong (`code`), in which phase of the
/// exchange (`phase`), and where (`address`). The description is bounded and safe to log; `code` and
/// `phase` are safe as metric labels.
public struct TernClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. Compare with `==` against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidURL, unsupportedScheme, resolveFailed, connectionRefused, connectTimeout, connectFailed
            case tlsFailed, tlsHandshakeTimeout, writeFailed, readTimeout, remoteClosed, invalidResponse
            case deadlineExceeded, tooManyRedirects, redirectLoop, bodyTooLarge, decompressionFailed
            case poolWaitTimeout, tooManyWaiters, cancelled, shutdown
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        public var description: String { self.base.rawValue }

        public static let invalidURL = Code(.invalidURL)
        public static let unsupportedScheme = Code(.unsupportedScheme)
        public static let resolveFailed = Code(.resolveFailed)
        public static let connectionRefused = Code(.connectionRefused)
        public static let connectTimeout = Code(.connectTimeout)
        public static let connectFailed = Code(.connectFailed)
        public static let tlsFailed = Code(.tlsFailed)
        public static let tlsHandshakeTimeout = Code(.tlsHandshakeTimeout)
        public static let writeFailed = Code(.writeFailed)
        public static let readTimeout = Code(.readTimeout)
        /// The server closed the connection before the response was complete.
        public static let remoteClosed = Code(.remoteClosed)
        /// The server sent bytes that are not an HTTP/1.x response.
        public static let invalidResponse = Code(.invalidResponse)
        /// The whole-request deadline passed.
        public static let deadlineExceeded = Code(.deadlineExceeded)
        public static let tooManyRedirects = Code(.tooManyRedirects)
        public static let redirectLoop = Code(.redirectLoop)
        /// A body was larger than the caller's limit.
        public static let bodyTooLarge = Code(.bodyTooLarge)
        /// The body could not be decompressed, or decompressed beyond the configured limit.
        public static let decompressionFailed = Code(.decompressionFailed)
        /// No connection became free within `poolWaitTimeout`.
        public static let poolWaitTimeout = Code(.poolWaitTimeout)
        /// The origin's waiter queue is full.
        public static let tooManyWaiters = Code(.tooManyWaiters)
        public static let cancelled = Code(.cancelled)
        /// The agent is shutting down or shut down.
        public static let shutdown = Code(.shutdown)
    }

    /// Where in the exchange the failure happened.
    public enum Phase: String, Hashable, Sendable {
        case request, resolve, connect, tls, pool, write, read, redirect
    }

    public var code: Code
    public var phase: Phase
    /// `host:port` of the peer, or the Unix socket path.
    public var address: String?
    /// A short text from the underlying error, if any.
    public var detail: String?

    public init(code: Code, phase: Phase, address: String? = nil, detail: String? = nil) {
        self.code = code
        self.phase = phase
        self.address = address
        self.detail = detail
    }

    public var description: String {
        var text = "\(self.code) during \(self.phase.rawValue)"
        if let address { text += " (\(address))" }
        if let detail { text += ": \(detail.prefix(300))" }
        return text
    }
}

extension TernClientError {
    /// Whether the failure happened before any response byte arrived, on a connection that the
    /// server may have closed while it sat idle: the case RFC 9112 §9.3.1 lets a client retry.
    var isStaleConnectionCandidate: Bool {
        self.code == .remoteClosed || self.code == .writeFailed
    }

    func at(_ address: String?) -> TernClientError {
        var copy = self
        if copy.address == nil { copy.address = address }
        return copy
    }
}
