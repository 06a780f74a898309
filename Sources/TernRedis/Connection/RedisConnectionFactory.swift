import NIOCore
import NIOPosix
import NIOSSL

/// Opens channels for `RedisConnection`s: TCP (no Nagle: pipelined commands must not wait) or a
/// Unix socket, with TLS in front when the configuration asks for it.
struct RedisConnectionFactory: Sendable {
    let configuration: RedisConfiguration
    let sslContext: NIOSSLContext?

    init(configuration: RedisConfiguration) throws(RedisError) {
        self.configuration = configuration
        if let tls = configuration.tls {
            do {
                self.sslContext = try NIOSSLContext(configuration: tls)
            } catch {
                throw RedisError(code: .tls, message: "cannot load the TLS configuration: \(error)")
            }
        } else {
            self.sslContext = nil
        }
    }

    /// Connects `connection` to `endpoint` on its loop. A failure is reported to the connection
    /// (which fails what it queued and calls its `onClose`) as well as through the future.
    @discardableResult
    func connect(_ connection: RedisConnection, to endpoint: RedisEndpoint) -> EventLoopFuture<any Channel> {
        let eventLoop = connection.eventLoop
        let bound = NIOLoopBound(connection, eventLoop: eventLoop)
        let sslContext = self.sslContext
        var serverName = self.configuration.tlsServerName
        if serverName == nil, case .tcp(let host, _) = endpoint, !host.isIPAddress { serverName = host }
        let name = serverName
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(self.configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let sslContext {
                        try sync.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: name))
                    }
                    try sync.addHandler(bound.value)
                }
            }
        let connected: EventLoopFuture<any Channel>
        switch endpoint {
        case .tcp(let host, let port):
            connected = bootstrap.connect(host: host, port: port)
        case .unixSocket(let path):
            connected = bootstrap.connect(unixDomainSocketPath: path)
        }
        let address = endpoint.description
        return connected.flatMapErrorThrowing { error in
            let mapped = Self.channelError(error, address: address)
            bound.value.connectFailed(mapped)
            throw mapped
        }
    }

    static func channelError(_ error: any Error, address: String) -> RedisError {
        switch error {
        case let error as RedisError:
            return error.at(address)
        case ChannelError.connectTimeout:
            return RedisError(code: .connection, address: address, message: "connect timed out")
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first { return Self.channelError(first.error, address: address) }
            return RedisError(code: .connection, address: address, message: "cannot resolve \(error.host)")
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            return RedisError(code: .connection, address: address, message: "connection refused")
        case let error as IOError:
            return RedisError(code: .connection, address: address, message: "\(error)")
        case is NIOSSLError, is NIOSSLExtraError:
            return RedisError(code: .tls, address: address, message: "\(error)")
        default:
            return RedisError(code: .connection, address: address, message: "\(error)")
        }
    }
}

extension String {
    /// Whether this is an IPv4 or IPv6 literal (SNI must not carry one, RFC 6066 §3).
    var isIPAddress: Bool {
        if self.contains(":") { return true }
        let parts = self.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) }
    }
}
