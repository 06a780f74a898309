import NIOCore
import XCTest

@testable import TernRedis

final class RedisMisbehavingServerTests: XCTestCase {
    private func server(_ reply: String, close: Bool) async throws -> MisbehavingRedisServer {
        let server = try await MisbehavingRedisServer(reply: reply, closeAfterReply: close)
        addTeardownBlock { try await server.shutdown() }
        return server
    }

    func testMalformedReplyIsAProtocolErrorForEveryCommandInFlight() async throws {
        let server = try await server("+OK\r\n?garbage\r\n", close: false)
        let client = try makeClient(server.url)
        let loop = client.eventLoopGroup.next()
        let futures = try await loop.submit { (0..<3).map { client.get("k\($0)", on: loop) } }.get()
        // The first gets its reply; the rest fail with the protocol error, whatever arrives later.
        let value65 = try await futures[0].get()?.text
        XCTAssertEqual(value65, "OK")
        for future in futures.dropFirst() {
            let error = await assertRedisError(.protocolError) { try await future.get() }
            XCTAssertTrue(error?.message?.contains("unknownType") == true, "\(String(describing: error))")
        }
    }

    func testCloseInTheMiddleOfAReply() async throws {
        let server = try await server("$10\r\nhel", close: true)
        let client = try makeClient(server.url)
        let error = await assertRedisError(.protocolError) { try await client.get("k") }
        XCTAssertEqual(error?.message, "connection closed in the middle of a reply")

        let arrays = try await self.server("*3\r\n:1\r\n", close: true)
        let other = try makeClient(arrays.url)
        await assertRedisError(.protocolError) { try await other.send("X") }
    }

    func testOversizedReplyIsRefused() async throws {
        let server = try await server("$100000\r\n", close: false)
        let client = try makeClient(server.url) { $0.decoderLimits.maxBulkLength = 1000 }
        let error = await assertRedisError(.protocolError) { try await client.get("k") }
        XCTAssertTrue(error?.message?.contains("bulkTooLong") == true)
    }
}
