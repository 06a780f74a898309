/// Every failure of the Redis client is a `RedisError`: what went wrong (`code`), where
/// (`address`), and a short detail (the server's message for `.server`). The description is bounded
/// and safe to log; `code` is safe as a metric label.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. Compare with `==` against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidConfiguration, connection, connectionClosed, tls, timeout, protocolError, server
            case unexpectedReply, crossSlot, tooManyRedirects, clusterDown, tooManyPending, shutdown
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        public var description: String { self.base.rawValue }

        /// The configuration or URL cannot work (bad URL, unknown scheme, database out of range).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The connection could not be made (refused, unreachable, resolve failure, connect
        /// timeout), or the pool is waiting to reconnect after such a failure.
        public static let connection = Code(.connection)
        /// The connection was lost with the command in flight: it may or may not have run.
        public static let connectionClosed = Code(.connectionClosed)
        public static let tls = Code(.tls)
        /// The command's reply did not arrive within the command timeout.
        public static let timeout = Code(.timeout)
        /// The server sent bytes that are not RESP, or closed in the middle of a reply.
        public static let protocolError = Code(.protocolError)
        /// The server answered with an error reply; `message` holds it (`WRONGTYPE …`, `NOAUTH …`).
        public static let server = Code(.server)
        /// A typed helper got a reply of a type it does not expect.
        public static let unexpectedReply = Code(.unexpectedReply)
        /// A command's keys hash to different cluster slots.
        public static let crossSlot = Code(.crossSlot)
        /// A cluster command was redirected (MOVED, ASK) more times than allowed.
        public static let tooManyRedirects = Code(.tooManyRedirects)
        /// No node of the cluster serves the slot, or the slot map could not be read.
        public static let clusterDown = Code(.clusterDown)
        /// A connection already carries the maximum number of commands in flight.
        public static let tooManyPending = Code(.tooManyPending)
        /// The client is shutting down or shut down.
        public static let shutdown = Code(.shutdown)
    }

    public var code: Code
    /// `host:port` of the server, or the Unix socket path.
    public var address: String?
    /// The server's error message for `.server`, else a short detail.
    public var message: String?

    public init(code: Code, address: String? = nil, message: String? = nil) {
        self.code = code
        self.address = address
        self.message = message
    }

    /// The first word of a server error (`MOVED`, `WRONGTYPE`, `NOSCRIPT`, `ERR`).
    public var serverErrorPrefix: Substring? {
        guard self.code == .server, let message else { return nil }
        return message.prefix { $0 != " " }
    }

    public var description: String {
        var text = "redis \(self.code)"
        if let address { text += " (\(address))" }
        if let message { text += ": \(message.prefix(300))" }
        return text
    }

    static func server(_ message: String, address: String?) -> RedisError {
        RedisError(code: .server, address: address, message: message)
    }

    func at(_ address: String?) -> RedisError {
        var copy = self
        if copy.address == nil { copy.address = address }
        return copy
    }
}
