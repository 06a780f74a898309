import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOPosix
import NIOSSL
import NIOTLS

/// Opens connections for one pool: TCP or Unix socket, then TLS (waiting for the handshake, so a
/// certificate problem is reported as a TLS failure and not as a failed write), then HTTP/1.1.
struct ConnectionFactory {
    let origin: Origin
    let configuration: Agent.Configuration
    let sslContext: NIOSSLContext?
    let tls: TLSSettings

    func makeConnection(
        id: PoolStateMachine.ConnectionID,
        pool: OriginPool,
        on eventLoop: any EventLoop,
        connectTimeout: TimeAmount? = nil
    ) -> EventLoopFuture<any Channel> {
        let boundPool = NIOLoopBound(pool, eventLoop: eventLoop)
        let readTimeout = self.configuration.readTimeout
        let decompresses = self.configuration.decompression != .disabled
        return self.makeChannel(on: eventLoop, connectTimeout: connectTimeout, decompression: self.configuration.decompression) {
            HTTP1Connection(id: id, pool: boundPool.value, readTimeout: readTimeout, decompresses: decompresses)
        }
    }

    /// Socket reads start at 2 KiB and grow while they come back full, up to 128 KiB (NIO's
    /// default stops at 64 KiB): a large body arrives in half the reads and decoder passes; a
    /// small response never makes the buffer grow. (256 KiB saved no more CPU on a 16 MiB
    /// download and cost peak memory.)
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 128 * 1024)

    /// Connects, adds TLS and the HTTP/1.1 codec, then `lastHandler()`. The response decoder
    /// forwards the bytes that follow a `101` when it is removed (`Agent.executeUpgrade`).
    func makeChannel(
        on eventLoop: any EventLoop,
        connectTimeout: TimeAmount?,
        decompression: Decompression,
        lastHandler: @escaping @Sendable () -> any ChannelHandler
    ) -> EventLoopFuture<any Channel> {
        let configuration = self.configuration
        let origin = self.origin
        let sslContext = self.sslContext
        let serverName = self.tls.serverName ?? (origin.scheme.isUnix || origin.host.isIPAddress ? nil : origin.host)
        let handshake = eventLoop.makePromise(of: Void.self)

        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout ?? configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: Self.receiveBuffers)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let sslContext {
                        let tlsHandler = try NIOSSLClientHandler(context: sslContext, serverHostname: serverName)
                        try sync.addHandler(tlsHandler)
                        try sync.addHandler(TLSHandshakeHandler(promise: handshake))
                    } else {
                        handshake.succeed()
                    }
                    try sync.addHandler(HTTP1ClientCodec(maxHeadBytes: configuration.maxResponseHeadSize))
                    if case .enabled(let limit) = decompression {
                        try sync.addHandler(NIOHTTPResponseDecompressor(limit: .size(limit)))
                    }
                    try sync.addHandler(lastHandler())
                }
            }

        let connected: EventLoopFuture<any Channel>
        if origin.scheme.isUnix {
            connected = bootstrap.connect(unixDomainSocketPath: origin.host)
        } else {
            connected = bootstrap.connect(host: origin.host, port: origin.port)
        }
        let address = origin.address
        return connected.flatMapError { error in
            handshake.fail(error)
            return eventLoop.makeFailedFuture(Self.connectError(error, address: address))
        }.flatMap { channel in
            let timeout = eventLoop.scheduleTask(in: configuration.tlsHandshakeTimeout) {
                handshake.fail(TernClientError(code: .tlsHandshakeTimeout, phase: .tls, address: address))
                channel.close(promise: nil)
            }
            return handshake.futureResult.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                if let error = error as? TernClientError { throw error }
                throw TernClientError(code: .tlsFailed, phase: .tls, address: address, detail: "\(error)")
            }.map {
                timeout.cancel()
                return channel
            }
        }
    }

    static func connectError(_ error: any Error, address: String) -> TernClientError {
        switch error {
        case let error as TernClientError:
            return error
        case ChannelError.connectTimeout:
            return TernClientError(code: .connectTimeout, phase: .connect, address: address)
        case let error as NIOConnectionError:
            guard let first = error.connectionErrors.first else {
                let cause = error.dnsAError ?? error.dnsAAAAError
                return TernClientError(
                    code: .resolveFailed,
                    phase: .resolve,
                    address: address,
                    detail: cause.map { "\($0)" } ?? "no addresses for \(error.host)"
                )
            }
            return Self.connectError(first.error, address: address)
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            return TernClientError(code: .connectionRefused, phase: .connect, address: address)
        case let error as IOError:
            return TernClientError(code: .connectFailed, phase: .connect, address: address, detail: "\(error)")
        case is NIOSSLError, is NIOSSLExtraError:
            return TernClientError(code: .tlsFailed, phase: .tls, address: address, detail: "\(error)")
        case let error as SocketAddressError:
            return TernClientError(code: .resolveFailed, phase: .resolve, address: address, detail: "\(error)")
        default:
            return TernClientError(code: .connectFailed, phase: .connect, address: address, detail: "\(error)")
        }
    }
}

/// Completes a promise when the TLS handshake is done, or fails it with the handshake's error.
final class TLSHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private var promise: EventLoopPromise<Void>?

    init(promise: EventLoopPromise<Void>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            self.promise?.succeed()
            self.promise = nil
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let promise = self.promise {
            self.promise = nil
            promise.fail(error)
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let promise = self.promise {
            self.promise = nil
            promise.fail(TernClientError(code: .tlsFailed, phase: .tls, detail: "connection closed during the TLS handshake"))
        }
        context.fireChannelInactive()
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
