import NIOCore
import NIOPosix
import Synchronization

/// Sends raw bytes over one TCP connection and returns everything the server sent until it closed or until
/// `timeout`: for checking `TestHTTPServer` itself, independently of the agent.
enum RawHTTPClient {
    static func exchange(
        port: Int = 0,
        host: String = "127.0.0.1",
        unixSocketPath: String? = nil,
        send request: String,
        timeout: TimeAmount = .seconds(5)
    ) async throws -> String {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CollectingHandler(collector: collector))
                }
            }
            .connect(to: unixSocketPath.map { try SocketAddress(unixDomainSocketPath: $0) }
                ?? SocketAddress.makeAddressResolvingHost(host, port: port)).get()
        try await channel.writeAndFlush(ByteBuffer(string: request))
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        try? await channel.closeFuture.get()
        deadline.cancel()
        return collector.text
    }

    final class Collector: Sendable {
        private let bytes = Mutex(ByteBuffer())
        func append(_ buffer: ByteBuffer) {
            var buffer = buffer
            bytes.withLock { _ = $0.writeBuffer(&buffer) }
        }
        var text: String { bytes.withLock { String(buffer: $0) } }
    }

    private final class CollectingHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let collector: Collector
        init(collector: Collector) { self.collector = collector }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            collector.append(unwrapInboundIn(data))
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
