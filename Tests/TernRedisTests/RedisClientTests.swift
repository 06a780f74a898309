import NIOCore
import NIOPosix
import XCTest
import TernTestSupport

@testable import TernRedis

final class RedisClientTests: XCTestCase {
    func testTypedHelpers() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)

        try await client.ping()
        let value1 = try await client.get("missing")
        XCTAssertNil(value1)
        let value2 = try await client.set("k", "v")
        XCTAssertTrue(value2)
        let value3 = try await client.get("k")?.text
        XCTAssertEqual(value3, "v")
        let value4 = try await client.set("bin", ByteBuffer(bytes: [0, 13, 10, 255]))
        XCTAssertTrue(value4)
        let value5 = try await client.get("bin")
        XCTAssertEqual(value5, ByteBuffer(bytes: [0, 13, 10, 255]))

        // NX and XX.
        let value6 = try await client.set("k", "other", condition: .ifNotExists)
        XCTAssertFalse(value6)
        let value7 = try await client.get("k")?.text
        XCTAssertEqual(value7, "v")
        let value8 = try await client.set("absent", "x", condition: .ifExists)
        XCTAssertFalse(value8)
        let value9 = try await client.get("absent")
        XCTAssertNil(value9)
        let value10 = try await client.set("k", "w", condition: .ifExists)
        XCTAssertTrue(value10)

        // EX and PX.
        let value11 = try await client.set("ttl", "x", expiration: .seconds(100))
        XCTAssertTrue(value11)
        let ttl = try await client.send("TTL", ["ttl"]).int ?? -1
        XCTAssertTrue((1...100).contains(ttl), "\(ttl)")
        let value12 = try await client.set("pttl", "x", expiration: .milliseconds(50_000))
        XCTAssertTrue(value12)
        let pttl = try await client.send("PTTL", ["pttl"]).int ?? -1
        XCTAssertTrue((1...50_000).contains(pttl), "\(pttl)")
        let value13 = try await client.set("pttl", "y", expiration: .keepTTL)
        XCTAssertTrue(value13)
        let value14 = try await client.send("PTTL", ["pttl"]).int ?? -1
        XCTAssertGreaterThan(value14, 0)

        let value15 = try await client.expire("k", after: .seconds(30))
        XCTAssertTrue(value15)
        let value16 = try await client.expire("k", after: .milliseconds(20_500))
        XCTAssertTrue(value16)
        let value17 = try await client.expire("nope", after: .seconds(1))
        XCTAssertFalse(value17)

        let values = try await client.mget(["k", "missing", "bin"])
        XCTAssertEqual(values.map { $0?.text }, ["w", nil, String(decoding: [0, 13, 10, 255] as [UInt8], as: UTF8.self)])

        let value18 = try await client.hset("h", fields: [("a", "1"), ("b", .bytes(ByteBuffer(string: "two")))])
        XCTAssertEqual(value18, 2)
        let value19 = try await client.hset("h", fields: [("a", 10)])
        XCTAssertEqual(value19, 0)
        let hash = try await client.hgetall("h")
        XCTAssertEqual(hash.mapValues(\.text), ["a": "10", "b": "two"])
        let value20 = try await client.hgetall("nohash")
        XCTAssertEqual(value20, [:])

        let value21 = try await client.del("k", "missing")
        XCTAssertEqual(value21, 1)
        let value22 = try await client.unlink(["h", "bin"])
        XCTAssertEqual(value22, 2)
        let value23 = try await client.publish("hello", to: "nobody")
        XCTAssertEqual(value23, 0)
    }

    func testGenericSendAndServerErrors() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)
        let value24 = try await client.send("INCRBY", ["n", 5])
        XCTAssertEqual(value24, .integer(5))
        let value25 = try await client.send("RPUSH", ["l", "a", "b"])
        XCTAssertEqual(value25, .integer(2))
        let value26 = try await client.send("LRANGE", ["l", 0, -1])
        XCTAssertEqual(value26, .array([.bulkString(ByteBuffer(string: "a")), .bulkString(ByteBuffer(string: "b"))]))
        let error = await assertRedisError(.server) { try await client.send("INCR", ["l"]) }
        XCTAssertEqual(error?.serverErrorPrefix, "WRONGTYPE")
        XCTAssertEqual(error?.address, "127.0.0.1:\(server.port)")
        await assertRedisError(.server) { try await client.send("NOSUCHCOMMAND") }
        XCTAssertThrowsError(try RedisReply.integer(.null)) { error in
            XCTAssertEqual((error as? RedisError)?.code, .unexpectedReply)
        }
        // The connection is still in step after the errors.
        let value27 = try await client.send("GET", ["n"]).string
        XCTAssertEqual(value27, "5")
    }

    func testRESP3AndFallbackToRESP2() async throws {
        let server = try startRedis()
        let resp3 = try makeClient(server.url)
        _ = try await resp3.hset("h", fields: [("f", "v")])
        guard case .map = try await resp3.send("HGETALL", ["h"]) else { return XCTFail("RESP3 should answer a map") }
        let value28 = try await resp3.send("HELLO").pairs?.first { $0.key.string == "proto" }?.value.int
        XCTAssertEqual(value28, 3)

        let resp2 = try makeClient(server.url + "?protocol=2")
        guard case .array = try await resp2.send("HGETALL", ["h"]) else { return XCTFail("RESP2 should answer an array") }
        let value29 = try await resp2.hgetall("h").mapValues(\.text)
        XCTAssertEqual(value29, ["f": "v"])
    }

    func testFallsBackToRESP2WhenTheServerHasNoHello() async throws {
        // A server that does not know HELLO, like Redis before 6.
        let server = try startRedis(["--requirepass", "pw", "--rename-command", "HELLO", ""])
        let client = try makeClient("redis://:pw@127.0.0.1:\(server.port)/4?name=fallback")
        try await client.set("k", "v")
        let name = try await client.send("CLIENT", ["GETNAME"]).string
        XCTAssertEqual(name, "fallback")
        let info = try await client.send("CLIENT", ["INFO"]).string ?? ""
        XCTAssertTrue(info.contains("resp=2") && info.contains("db=4"), info)
        _ = try await client.hset("h", fields: [("f", "v")])
        guard case .array = try await client.send("HGETALL", ["h"]) else { return XCTFail("RESP2 answers arrays") }
    }

    func testAuthenticationDatabaseAndClientName() async throws {
        let server = try startRedis(["--requirepass", "sesame", "--user", "alice", "on", ">secret", "~*", "&*", "+@all"])
        let client = try makeClient("redis://alice:secret@127.0.0.1:\(server.port)/3?name=tern-test")
        let value30 = try await client.send("ACL", ["WHOAMI"]).string
        XCTAssertEqual(value30, "alice")
        let value31 = try await client.send("CLIENT", ["GETNAME"]).string
        XCTAssertEqual(value31, "tern-test")
        try await client.set("in-db-3", "yes")
        XCTAssertEqual(try server.cli(["-n", "3", "GET", "in-db-3"], password: "sesame").trimmingCharacters(in: .whitespacesAndNewlines), "yes")

        // The default user with a password only, over RESP2 (AUTH + CLIENT SETNAME + SELECT).
        let legacy = try makeClient("redis://:sesame@127.0.0.1:\(server.port)/3?name=old&protocol=2")
        let value32 = try await legacy.get("in-db-3")?.text
        XCTAssertEqual(value32, "yes")
        let value33 = try await legacy.send("CLIENT", ["GETNAME"]).string
        XCTAssertEqual(value33, "old")

        let wrong = try makeClient("redis://alice:nope@127.0.0.1:\(server.port)")
        let error = await assertRedisError(.server) { try await wrong.get("x") }
        XCTAssertEqual(error?.serverErrorPrefix, "WRONGPASS")
        // While the pool backs off, commands fail at once with the reason.
        let again = await assertRedisError(.server) { try await wrong.get("x") }
        XCTAssertTrue(again?.message?.contains("WRONGPASS") == true, "\(String(describing: again))")
    }

    func testUnixSocket() async throws {
        let server = try startRedis()
        let client = try makeClient("unix://\(server.unixSocketPath)?db=1")
        try await client.set("via-socket", "1")
        let value34 = try await client.get("via-socket")?.text
        XCTAssertEqual(value34, "1")
        XCTAssertEqual(try server.cli(["-n", "1", "GET", "via-socket"]).trimmingCharacters(in: .whitespacesAndNewlines), "1")
    }

    func testPipeliningKeepsRepliesInOrderOnOneConnection() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)
        let loop = client.eventLoopGroup.next()
        let count = 20_000
        // Issued on the loop without waiting: all in flight together.
        let results = try await loop.flatSubmit { () -> EventLoopFuture<[Bool]> in
            var futures: [EventLoopFuture<Bool>] = []
            for index in 0..<count {
                futures.append(client.set("key:\(index)", "value:\(index)", on: loop))
                futures.append(client.get("key:\(index)", on: loop).map { $0?.text == "value:\(index)" })
            }
            return EventLoopFuture.whenAllSucceed(futures, on: loop)
        }.get()
        XCTAssertEqual(results.count, 2 * count)
        XCTAssertTrue(results.allSatisfy { $0 })
        // One connection carried them all.
        let clients = try server.cli(["CLIENT", "LIST"]).split(separator: "\n").filter { !$0.contains("cmd=client") }
        XCTAssertEqual(clients.count, 1, "\(clients)")
    }

    func testManyConcurrentTasksThroughTheAsyncAPI() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url, threads: 2)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<200 {
                group.addTask {
                    for index in 0..<20 {
                        let key = "task:\(task):\(index)"
                        try await client.set(key, "\(task)-\(index)")
                        let value = try await client.get(key)
                        XCTAssertEqual(value?.text, "\(task)-\(index)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let count = try await client.send("DBSIZE").int
        XCTAssertEqual(count, 4000)
    }

    func testOnePoolPerEventLoop() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url, threads: 2) { $0.connectionsPerLoop = 2 }
        var loops: [any EventLoop] = []
        for loop in client.eventLoopGroup.makeIterator() { loops.append(loop) }
        for loop in loops {
            for index in 0..<8 {
                let future = client.set("k\(index)", "v", on: loop)
                XCTAssertTrue(future.eventLoop === loop)
                _ = try await future.get()
            }
        }
        let clients = try server.cli(["CLIENT", "LIST"]).split(separator: "\n").filter { !$0.contains("cmd=client") }
        XCTAssertEqual(clients.count, 4, "two loops × two connections: \(clients)")
    }

    func testCommandTimeoutFailsTheCommandAndTheConnectionRecovers() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url) { $0.commandTimeout = .milliseconds(300) }
        try await client.ping()
        let loop = client.eventLoopGroup.next()
        let sleeping = client.send("DEBUG", ["SLEEP", "1"], on: loop)
        let behind = client.get("x", on: loop)
        let error = await assertRedisError(.timeout) { try await sleeping.get() }
        XCTAssertEqual(error?.address, "127.0.0.1:\(server.port)")
        // The command behind it shared the stuck connection, which was closed (or timed out as well).
        do {
            _ = try await behind.get()
            XCTFail("the command behind should fail")
        } catch let error as RedisError {
            XCTAssertTrue(error.code == .connectionClosed || error.code == .timeout, "\(error)")
        }
        // A new connection serves the next commands.
        let value = try await eventually { try await client.send("ECHO", ["back"]) }
        XCTAssertEqual(value.string, "back")
    }

    func testLostConnectionFailsExactlyItsCommandsAndReconnects() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)
        try await client.set("k", "v")
        let loop = client.eventLoopGroup.next()
        let blocked = client.send("BLPOP", ["never", 0], on: loop)
        let behind = client.get("k", on: loop)
        try await Task.sleep(for: .milliseconds(200))
        try server.cli(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"])
        let first = await assertRedisError(.connectionClosed) { try await blocked.get() }
        XCTAssertEqual(first?.message, "connection closed by the server")
        await assertRedisError(.connectionClosed) { try await behind.get() }
        let value35 = try await client.get("k")?.text
        XCTAssertEqual(value35, "v")
    }

    func testServerRestartAndRefusedConnections() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url) { $0.reconnectMaxDelay = .milliseconds(200) }
        try await client.set("k", "v")
        server.stop()
        // The command in flight, or the first after the loss, sees the close; then connects are refused.
        var codes: [RedisError.Code] = []
        for _ in 0..<3 {
            do {
                _ = try await client.get("k")
                XCTFail("the server is down")
            } catch let error as RedisError {
                XCTAssertEqual(error.address, "127.0.0.1:\(server.port)")
                codes.append(error.code)
            }
        }
        XCTAssertTrue(codes.allSatisfy { $0 == .connection || $0 == .connectionClosed }, "\(codes)")
        XCTAssertEqual(codes.last, .connection)
        // The same port again: the pool reconnects by itself.
        let restarted = try RedisServerProcess(port: server.port)
        addTeardownBlock { restarted.remove() }
        let value = try await eventually { try await client.get("k") }
        XCTAssertNil(value, "a fresh server has no keys")
    }

    func testConnectionRefused() async throws {
        let port = try RedisServerProcess.freePort()
        let client = try makeClient("redis://127.0.0.1:\(port)")
        let error = await assertRedisError(.connection) { try await client.get("k") }
        XCTAssertEqual(error?.address, "127.0.0.1:\(port)")
        XCTAssertTrue(error?.message?.contains("refused") == true, "\(String(describing: error))")
    }

    func testShutdownFailsLaterCommands() async throws {
        let server = try startRedis()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try RedisClient(configuration: RedisConfiguration(url: server.url), eventLoopGroup: group)
        try await client.ping()
        try await client.shutdown()
        await assertRedisError(.shutdown) { try await client.ping() }
        try await group.shutdownGracefully()
    }
}
