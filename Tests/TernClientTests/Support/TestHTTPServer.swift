import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A real HTTP/1.1 server on loopback for end-to-end tests of the agent.
///
/// It writes responses as raw bytes (only request parsing uses NIOHTTP1) so that routes can misbehave on purpose:
/// wrong framing, garbage, half-sent bodies. It counts the TCP connections it accepted and records every request
/// head it parsed, which is how tests observe pooling and retries from the outside.
/// Routes are documented on `TestHTTPHandler`.
final class TestHTTPServer: Sendable {
    enum Address: Sendable {
        /// 127.0.0.1, port 0
        case ipv4
        /// [::1], port 0
        case ipv6
        /// a unix domain socket; nil picks a fresh path under /tmp
        case unix(path: String?)
    }

    enum Behavior: Sendable {
        /// HTTP/1.1 keep-alive, routes as documented
        case normal
        /// closes every connection right after its first response, without sending `Connection: close`
        case closeAfterEachResponse
        /// answers the first request of a connection; closes the connection, unanswered, when a second request
        /// head arrives on it: the deterministic form of a stale pooled connection
        case closeReusedConnections
        /// like `closeReusedConnections`, but waits for the first byte of the second request's body before
        /// closing: the request body has provably started when the connection turns out to be stale
        case closeReusedConnectionsOnBody
        /// accepts TCP and never reads or writes a byte (TLS handshake timeouts)
        case acceptOnly
    }

    struct TLS: Sendable {
        var certificateChainPEMFile: String
        var privateKeyPEMFile: String
        /// when set, the server requires a client certificate signed by this CA
        var clientCAPEMFile: String? = nil
    }

    struct RecordedRequest: Sendable {
        var connection: Int
        var head: HTTPRequestHead
    }

    private struct State {
        var started = false
        var serverChannel: (any Channel)?
        var socketPath: String?
        var port = 0
        var nextConnectionID = 0
        var acceptedConnections = 0
        var openChannels: [Int: any Channel] = [:]
        var peakOpenChannels = 0
        var requests: [RecordedRequest] = []
    }

    let address: Address
    let tls: TLS?
    let behavior: Behavior
    let eventLoopGroup: any EventLoopGroup
    private let state = Mutex(State())

    init(
        address: Address = .ipv4,
        tls: TLS? = nil,
        behavior: Behavior = .normal,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.address = address
        self.tls = tls
        self.behavior = behavior
        self.eventLoopGroup = eventLoopGroup
    }

    /// Binds and starts accepting. Returns `self` so that `let server = try await TestHTTPServer().start()` reads well.
    @discardableResult
    func start() async throws -> TestHTTPServer {
        let sslContext: NIOSSLContext?
        if let tls {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificateChainPEMFile).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.privateKeyPEMFile, format: .pem))
            )
            if let clientCA = tls.clientCAPEMFile {
                configuration.certificateVerification = .noHostnameVerification
                configuration.trustRoots = .file(clientCA)
            }
            sslContext = try NIOSSLContext(configuration: configuration)
        } else {
            sslContext = nil
        }

        let behavior = self.behavior
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                let id = self.registerConnection(channel)
                if case .acceptOnly = behavior {
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let sslContext {
                        try sync.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(TestHTTPHandler(server: self, connectionID: id))
                }
            }

        let channel: any Channel
        var socketPath: String?
        switch address {
        case .ipv4:
            channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        case .ipv6:
            channel = try await bootstrap.bind(host: "::1", port: 0).get()
        case .unix(let path):
            let path = path ?? "/tmp/tern-test-\(UUID().uuidString.prefix(8).lowercased()).sock"
            socketPath = path
            channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        }
        let port = channel.localAddress?.port ?? 0
        state.withLock {
            $0.started = true
            $0.serverChannel = channel
            $0.socketPath = socketPath
            $0.port = port
        }
        return self
    }

    /// Closes the listening socket and every connection still open.
    func shutdown() async throws {
        let (server, children, socketPath) = state.withLock { state in
            let result = (state.serverChannel, Array(state.openChannels.values), state.socketPath)
            state.serverChannel = nil
            return result
        }
        try? await server?.close()
        for child in children {
            try? await child.close()
        }
        if let socketPath {
            try? FileManager.default.removeItem(atPath: socketPath)
        }
    }

    // MARK: - What tests read

    var port: Int { state.withLock { $0.port } }

    /// The unix socket path, for `.unix` servers.
    var socketPath: String? { state.withLock { $0.socketPath } }

    var scheme: String { tls == nil ? "http" : "https" }

    /// `http://127.0.0.1:PORT`, `http://[::1]:PORT`, `http+unix://%2Ftmp%2F….sock`, or the `https` forms.
    var baseURL: String { baseURL(host: nil) }

    /// The base URL with another host name for the same listener, e.g. `localhost` as a second origin.
    func baseURL(host: String?) -> String {
        switch address {
        case .ipv4:
            return "\(scheme)://\(host ?? "127.0.0.1"):\(port)"
        case .ipv6:
            return "\(scheme)://\(host ?? "[::1]"):\(port)"
        case .unix:
            let encoded = (socketPath ?? "").replacingOccurrences(of: "/", with: "%2F")
            return "\(scheme)+unix://\(encoded)"
        }
    }

    func url(_ path: String, host: String? = nil) -> String {
        baseURL(host: host) + path
    }

    /// TCP (or unix) connections accepted since start.
    var connectionCount: Int { state.withLock { $0.acceptedConnections } }

    /// Connections currently open on the server side.
    var openConnectionCount: Int { state.withLock { $0.openChannels.count } }

    /// The most connections that were open at the same time.
    var peakOpenConnectionCount: Int { state.withLock { $0.peakOpenChannels } }

    var requests: [RecordedRequest] { state.withLock { $0.requests } }

    var requestHeads: [HTTPRequestHead] { requests.map(\.head) }

    // MARK: - Called by the handler

    private func registerConnection(_ channel: any Channel) -> Int {
        let id = state.withLock { state in
            state.nextConnectionID += 1
            state.acceptedConnections += 1
            state.openChannels[state.nextConnectionID] = channel
            state.peakOpenChannels = max(state.peakOpenChannels, state.openChannels.count)
            return state.nextConnectionID
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = self.state.withLock { $0.openChannels.removeValue(forKey: id) }
        }
        return id
    }

    func record(_ head: HTTPRequestHead, connection: Int) {
        state.withLock { $0.requests.append(RecordedRequest(connection: connection, head: head)) }
    }
}
