import Logging
import NIOCore
import NIOSSL

/// How to reach a Redis server (or a cluster) and how the client behaves. Every bound and timeout
/// has a default; `init(url:)` reads the usual URL forms.
public struct RedisConfiguration: Sendable {
    public enum ProtocolVersion: Int, Sendable, Hashable {
        case resp2 = 2
        case resp3 = 3
    }

    /// The server, or for a cluster the seed nodes the slot map is first read from.
    public var endpoints: [RedisEndpoint]
    public var username: String?
    public var password: String?
    /// `SELECT`ed after connecting. Must be 0 for a cluster.
    public var database: Int
    /// Sent as `CLIENT SETNAME` (or in `HELLO`).
    public var clientName: String?
    /// RESP3 is asked for with `HELLO 3`; a server without `HELLO` is spoken to in RESP2.
    public var protocolVersion: ProtocolVersion
    /// TLS for every connection (`rediss://`); `nil` is plain TCP.
    public var tls: TLSConfiguration?
    /// The name checked against the server certificate and sent as SNI; defaults to the host.
    public var tlsServerName: String?
    /// Whether the endpoints are Redis Cluster nodes.
    public var cluster: Bool

    /// Connections per server per event loop; each carries many pipelined commands.
    public var connectionsPerLoop: Int
    /// How long a command may wait for its reply. A connection whose oldest command times out is
    /// closed, since every reply behind it is stuck too.
    public var commandTimeout: TimeAmount
    public var connectTimeout: TimeAmount
    /// Reconnect delays grow from `reconnectBaseDelay`, doubling up to `reconnectMaxDelay`, with jitter.
    public var reconnectBaseDelay: TimeAmount
    public var reconnectMaxDelay: TimeAmount
    /// Commands one connection may carry at once, queued ones included.
    public var maxInFlightPerConnection: Int
    /// MOVED and ASK redirects followed for one command.
    public var maxRedirects: Int
    public var decoderLimits: RESPDecoder.Limits
    /// Connection events: lost connections and failed connects (the first of a run at warning
    /// level, the retries at debug, so a server that is down does not flood the log).
    public var logger: Logger

    public init(
        endpoints: [RedisEndpoint],
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        tls: TLSConfiguration? = nil,
        cluster: Bool = false
    ) {
        self.endpoints = endpoints
        self.username = username
        self.password = password
        self.database = database
        self.clientName = nil
        self.protocolVersion = .resp3
        self.tls = tls
        self.tlsServerName = nil
        self.cluster = cluster
        self.connectionsPerLoop = 1
        self.commandTimeout = .seconds(5)
        self.connectTimeout = .seconds(5)
        self.reconnectBaseDelay = .milliseconds(50)
        self.reconnectMaxDelay = .seconds(5)
        self.maxInFlightPerConnection = 65_536
        self.maxRedirects = 5
        self.decoderLimits = RESPDecoder.Limits()
        self.logger = Logger(label: "tern.redis")
    }

    /// Reads `redis://[user[:password]@]host[:port][/db][?name=…&protocol=2]`, `rediss://` for TLS,
    /// `redis+unix:///path` or `unix:///path` (`?db=N`), or a bare socket path `/path/redis.sock`.
    public init(url: String) throws(RedisError) {
        self = try RedisURLParser.parse(url)
    }

    /// A cluster, from the URLs of one or more of its nodes (credentials and TLS from the first).
    public init(clusterURLs urls: [String]) throws(RedisError) {
        guard let first = urls.first else {
            throw RedisError(code: .invalidConfiguration, message: "a cluster needs at least one seed URL")
        }
        var configuration = try RedisURLParser.parse(first)
        for url in urls.dropFirst() {
            configuration.endpoints += try RedisURLParser.parse(url).endpoints
        }
        configuration.cluster = true
        self = configuration
    }

    /// Turns TLS on (if it is not) and trusts the certificates of a PEM file, a private CA say,
    /// instead of the system's trust store.
    public mutating func trustCertificates(inPEMFile path: String) {
        var tls = self.tls ?? TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(path)
        self.tls = tls
    }

    func validate() throws(RedisError) {
        if self.endpoints.isEmpty {
            throw RedisError(code: .invalidConfiguration, message: "no endpoint")
        }
        if self.cluster && self.database != 0 {
            throw RedisError(code: .invalidConfiguration, message: "a cluster has only database 0")
        }
        if self.connectionsPerLoop < 1 || self.maxInFlightPerConnection < 1 || self.maxRedirects < 0 {
            throw RedisError(code: .invalidConfiguration, message: "connection counts must be positive")
        }
    }
}
