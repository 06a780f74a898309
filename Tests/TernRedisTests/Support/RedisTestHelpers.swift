import NIOCore
import NIOPosix
import TernRedis
import XCTest
import TernTestSupport

extension XCTestCase {
    /// A `redis-server` for this test, killed when it ends.
    func startRedis(_ arguments: [String] = []) throws -> RedisServerProcess {
        let server: RedisServerProcess
        do {
            server = try RedisServerProcess(arguments: arguments)
        } catch let error as XCTSkipFailure {
            XCTFail(error.description)
            throw error
        }
        addTeardownBlock { server.remove() }
        return server
    }

    /// A client on its own event loop group of `threads` loops, shut down when the test ends.
    func makeClient(
        _ url: String,
        threads: Int = 1,
        _ configure: (inout RedisConfiguration) -> Void = { _ in }
    ) throws -> RedisClient {
        var configuration = try RedisConfiguration(url: url)
        configure(&configuration)
        return try self.makeClient(configuration, threads: threads)
    }

    func makeClient(_ configuration: RedisConfiguration, threads: Int = 1) throws -> RedisClient {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let client = try RedisClient(configuration: configuration, eventLoopGroup: group)
        addTeardownBlock {
            try await client.shutdown()
            try await group.shutdownGracefully()
        }
        return client
    }

    /// Asserts that `body` throws a `RedisError` with `code`, and returns it.
    @discardableResult
    func assertRedisError<T>(
        _ code: RedisError.Code,
        file: StaticString = #filePath,
        line: UInt = #line,
        _ body: () async throws -> T
    ) async -> RedisError? {
        do {
            let value = try await body()
            XCTFail("expected \(code), got \(value)", file: file, line: line)
        } catch let error as RedisError {
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("expected a RedisError \(code), got \(error)", file: file, line: line)
        }
        return nil
    }

    /// Retries `body` every 50 ms until it succeeds or `timeout` passes.
    func eventually<T>(timeout: Duration = .seconds(10), _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                return try await body()
            } catch {
                if ContinuousClock.now >= deadline { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}

extension ByteBuffer {
    var text: String { String(buffer: self) }
}

/// A server that answers whatever it reads with fixed bytes, then maybe closes: garbage, a reply
/// cut in half. The client talks RESP2 to it with no handshake.
final class MisbehavingRedisServer: @unchecked Sendable {
    let channel: any Channel
    let group: MultiThreadedEventLoopGroup

    var port: Int { self.channel.localAddress!.port! }
    var url: String { "redis://127.0.0.1:\(self.port)?protocol=2" }

    init(reply: String, closeAfterReply: Bool) async throws {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.channel = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(reply: reply, closeAfterReply: closeAfterReply))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func shutdown() async throws {
        try await self.channel.close()
        try await self.group.shutdownGracefully()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reply: String
        let closeAfterReply: Bool

        init(reply: String, closeAfterReply: Bool) {
            self.reply = reply
            self.closeAfterReply = closeAfterReply
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: self.reply)), promise: nil)
            if self.closeAfterReply { context.close(promise: nil) }
        }
    }
}
