import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import TernClient
import XCTest

@testable import TernProxy

/// `server ADDRESS max-conns=N`: the agent's pool for that server never holds more than N
/// connections (per event loop; the test proxy has one), whatever the concurrency in front.
final class ProxyMaxConnsTests: ProxyTestCase {
    func testFiftyConcurrentSlowRequestsUseAtMostMaxConnsConnections() async throws {
        let origin = try await SlowCountingOrigin.start(delay: .milliseconds(100))
        self.cleanups.append { try await origin.stop() }
        let (_, port) = try await self.proxy(
            """
            upstream limited { server 127.0.0.1:\(origin.port) max-conns=4 }
            route / { proxy limited }
            """
        )
        let statuses = try await Self.concurrentGets(self.client, port: port, count: 50)
        XCTAssertEqual(statuses, Array(repeating: 200, count: 50))
        XCTAssertEqual(origin.requests, 50)
        XCTAssertEqual(origin.mostOpenAtOnce, 4, "the pool filled up to max-conns and no further")
    }

    func testWithoutMaxConnsTheAgentDefaultApplies() async throws {
        let origin = try await SlowCountingOrigin.start(delay: .milliseconds(100))
        self.cleanups.append { try await origin.stop() }
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(origin.port) }")
        _ = try await Self.concurrentGets(self.client, port: port, count: 12)
        XCTAssertGreaterThan(origin.mostOpenAtOnce, 4)
    }

    private static func concurrentGets(_ client: Agent, port: Int, count: Int) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<count {
                group.addTask {
                    let response = try await client.execute(Request(url: "http://127.0.0.1:\(port)/slow/\(index)"))
                    _ = try await response.string(upTo: 1 << 10)
                    return Int(response.status.code)
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
    }
}

/// Answers every request after `delay`, counting requests and the most connections open at once.
final class SlowCountingOrigin: Sendable {
    private let channel: any Channel
    private let counts = Mutex((open: 0, most: 0, requests: 0))
    var port: Int { self.channel.localAddress!.port! }
    var mostOpenAtOnce: Int { self.counts.withLock { $0.most } }
    var requests: Int { self.counts.withLock { $0.requests } }

    private init(channel: any Channel) { self.channel = channel }

    static func start(delay: TimeAmount) async throws -> SlowCountingOrigin {
        let box = Box()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                box.origin?.opened(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(SlowResponder(delay: delay) { box.origin?.counted() })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let origin = SlowCountingOrigin(channel: channel)
        box.origin = origin
        return origin
    }

    private final class Box: @unchecked Sendable {
        // Set once, before the first connection can arrive (the port is not known before).
        var origin: SlowCountingOrigin?
    }

    private func opened(_ channel: any Channel) {
        self.counts.withLock {
            $0.open += 1
            $0.most = max($0.most, $0.open)
        }
        channel.closeFuture.whenComplete { _ in self.counts.withLock { $0.open -= 1 } }
    }

    private func counted() { self.counts.withLock { $0.requests += 1 } }

    func stop() async throws { try await self.channel.close() }
}

private final class SlowResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let delay: TimeAmount
    private let counted: @Sendable () -> Void

    init(delay: TimeAmount, counted: @escaping @Sendable () -> Void) {
        self.delay = delay
        self.counted = counted
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = Self.unwrapInboundIn(data) else { return }
        self.counted()
        context.eventLoop.assumeIsolated().scheduleTask(in: self.delay) {
            let body = ByteBuffer(string: "slow")
            let headers = HTTPHeaders([("Content-Length", "\(body.readableBytes)")])
            context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
