import NIOCore
import XCTest
import TernTestSupport

@testable import TernRedis

final class RedisPubSubTests: XCTestCase {
    private func receive(_ stream: AsyncThrowingStream<RedisMessage, any Error>, count: Int) async throws -> [RedisMessage] {
        var messages: [RedisMessage] = []
        for try await message in stream {
            messages.append(message)
            if messages.count == count { break }
        }
        return messages
    }

    func testSubscribeAndPublish() async throws {
        for url in ["", "?protocol=2"] {
            let server = try startRedis()
            let client = try makeClient(server.url + url)
            let stream = try await client.subscribe(to: ["news", "alerts"])
            let value61 = try await client.publish("hello", to: "news")
            XCTAssertEqual(value61, 1)
            let value62 = try await client.publish(ByteBuffer(bytes: [0, 1, 2]), to: "alerts")
            XCTAssertEqual(value62, 1)
            let messages = try await receive(stream, count: 2)
            XCTAssertEqual(messages[0], RedisMessage(channel: "news", payload: ByteBuffer(string: "hello")))
            XCTAssertEqual(messages[1], RedisMessage(channel: "alerts", payload: ByteBuffer(bytes: [0, 1, 2])))

            let patterns = try await client.psubscribe(to: ["cache.*"])
            let value63 = try await client.publish("gone", to: "cache.invalidate")
            XCTAssertEqual(value63, 1)
            let matched = try await receive(patterns, count: 1)
            XCTAssertEqual(matched.first?.pattern, "cache.*")
            XCTAssertEqual(matched.first?.channel, "cache.invalidate")
        }
    }

    func testStoppingTheStreamClosesItsConnection() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)
        do {
            let stream = try await client.subscribe(to: ["c"])
            let value64 = try await client.send("PUBSUB", ["NUMSUB", "c"]).array?.last?.int
            XCTAssertEqual(value64, 1)
            // Alive until here: a variable keeps nothing alive past its last use once the
            // optimizer may shorten lifetimes (scripts/test-release.sh).
            withExtendedLifetime(stream) {}
        }
        try await eventually {
            let count = try await client.send("PUBSUB", ["NUMSUB", "c"]).array?.last?.int
            if count != 0 { throw RedisError(code: .timeout, message: "still subscribed") }
        }
    }

    func testLostSubscriptionEndsTheStreamWithAnError() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)
        let stream = try await client.subscribe(to: ["c"])
        try server.cli(["CLIENT", "KILL", "TYPE", "pubsub"])
        do {
            for try await message in stream { XCTFail("unexpected \(message)") }
            XCTFail("the stream should fail")
        } catch let error as RedisError {
            XCTAssertEqual(error.code, .connectionClosed)
        }
    }
}
