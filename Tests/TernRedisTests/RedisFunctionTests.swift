import NIOCore
import XCTest

@testable import TernRedis

final class RedisFunctionTests: XCTestCase {
    func testLibraryShipsAsAResource() {
        XCTAssertTrue(RedisLibrary.source.hasPrefix("#!lua name=tern"))
        XCTAssertTrue(RedisLibrary.source.contains("tern_lease_acquire"))
    }

    func testSetIfNewer() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)
        let value45 = try await client.fcall("tern_version").int
        XCTAssertEqual(value45, 1)
        let value46 = try await client.fcall("tern_set_if_newer", keys: ["entry"], arguments: [5, "five", 0])
        XCTAssertEqual(value46, .integer(1))
        let value47 = try await client.fcall("tern_set_if_newer", keys: ["entry"], arguments: [4, "four", 0])
        XCTAssertEqual(value47, .integer(0))
        let value48 = try await client.fcall("tern_set_if_newer", keys: ["entry"], arguments: [5, "again", 0])
        XCTAssertEqual(value48, .integer(0))
        let stored = try await client.fcall("tern_get_versioned", keys: ["entry"])
        XCTAssertEqual(stored.array?.first?.int, 5)
        XCTAssertEqual(stored.array?.last?.string, "five")
        let value49 = try await client.fcall("tern_set_if_newer", keys: ["entry"], arguments: [6, "six", 60_000])
        XCTAssertEqual(value49, .integer(1))
        let value50 = try await client.send("PTTL", ["entry"]).int ?? 0
        XCTAssertGreaterThan(value50, 0)
        let value51 = try await client.fcall("tern_get_versioned", keys: ["none"]).isNull
        XCTAssertTrue(value51)
        let error = await assertRedisError(.server) { try await client.fcall("tern_set_if_newer", keys: ["entry"], arguments: ["x", "y"]) }
        XCTAssertTrue(error?.message?.contains("version must be a number") == true)
    }

    func testLease() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)
        let value52 = try await client.fcall("tern_lease_acquire", keys: ["lease"], arguments: ["a", 10_000])
        XCTAssertEqual(value52, .integer(1))
        let value53 = try await client.fcall("tern_lease_acquire", keys: ["lease"], arguments: ["b", 10_000])
        XCTAssertEqual(value53, .integer(0))
        let value54 = try await client.fcall("tern_lease_acquire", keys: ["lease"], arguments: ["a", 20_000])
        XCTAssertEqual(value54, .integer(1), "renewal")
        let value55 = try await client.fcall("tern_lease_release", keys: ["lease"], arguments: ["b"])
        XCTAssertEqual(value55, .integer(0))
        let value56 = try await client.fcall("tern_lease_release", keys: ["lease"], arguments: ["a"])
        XCTAssertEqual(value56, .integer(1))
        let value57 = try await client.fcall("tern_lease_acquire", keys: ["lease"], arguments: ["b", 50])
        XCTAssertEqual(value57, .integer(1))
        try await Task.sleep(for: .milliseconds(120))
        let value58 = try await client.fcall("tern_lease_acquire", keys: ["lease"], arguments: ["a", 1000])
        XCTAssertEqual(value58, .integer(1), "expired")
    }

    func testReloadsTheLibraryWhenTheServerLostIt() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)
        let value59 = try await client.fcall("tern_version").int
        XCTAssertEqual(value59, 1)
        XCTAssertTrue(try server.cli(["FUNCTION", "FLUSH"]).contains("OK"))
        let value60 = try await client.fcall("tern_version").int
        XCTAssertEqual(value60, 1)
        XCTAssertTrue(try server.cli(["FUNCTION", "LIST"]).contains("tern"))
    }
}

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
            _ = stream
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
