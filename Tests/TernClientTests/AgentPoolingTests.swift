import HTTPTypes
import NIOCore
import NIOPosix
import TernClient
import XCTest

/// Connection reuse, limits, waiters and stale-connection retries, observed from the server's side.
final class AgentPoolingTests: XCTestCase {
    func testSequentialRequestsReuseOneConnection() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        for _ in 0..<20 {
            let text = try await agent.getString(server.url("/hello"))
            XCTAssertEqual(text, "Hello, world!")
        }
        XCTAssertEqual(server.requests.count, 20)
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testReuseAfterEveryBodyKind() async throws {
        // A connection goes back to the pool only after its response was read to the end, whatever the framing.
        let server = try await startServer()
        let agent = makeAgent()
        for path in ["/bytes/100000", "/chunked/100000", "/status/204", "/redirect/302?to=/hello", "/hello"] {
            var request = Request(url: server.url(path))
            request.method = .get
            let response = try await agent.execute(request)
            _ = try await response.bytes()
        }
        let head = try await agent.execute(Request(method: .head, url: server.url("/bytes/5000")))
        XCTAssertEqual(head.status.code, 200)
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testOwningAgentUsesAtMostOneConnectionPerLoop() async throws {
        let server = try await startServer()
        let agent = makeOwningAgent()
        for _ in 0..<20 {
            _ = try await agent.getString(server.url("/hello"))
        }
        let loops = Array(agent.eventLoopGroup.makeIterator()).count
        XCTAssertGreaterThanOrEqual(server.connectionCount, 1)
        XCTAssertLessThanOrEqual(server.connectionCount, loops)
    }

    func testPerOriginLimitUnderConcurrency() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.maxConnectionsPerOrigin = 8 }
        let url = server.url("/delay?ms=20")
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    let response = try await agent.get(url)
                    _ = try await response.bytes()
                    return response.status.code
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        XCTAssertEqual(statuses.count, 200)
        XCTAssertTrue(statuses.allSatisfy { $0 == 200 })
        XCTAssertEqual(server.requests.count, 200)
        XCTAssertLessThanOrEqual(server.connectionCount, 8)
        XCTAssertLessThanOrEqual(server.peakOpenConnectionCount, 8)
        XCTAssertGreaterThan(server.connectionCount, 1, "200 concurrent requests should use more than one connection")
    }

    func testPerOriginLimitIsPerEventLoop() async throws {
        // The agent's own group has one loop per core, each with its own pools (DESIGN: stay on the loop).
        let server = try await startServer()
        let agent = makeOwningAgent { $0.maxConnectionsPerOrigin = 4 }
        let loops = Array(agent.eventLoopGroup.makeIterator()).count
        let url = server.url("/delay?ms=20")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    let response = try await agent.get(url)
                    XCTAssertEqual(response.status.code, 200)
                    _ = try await response.bytes()
                }
            }
            try await group.waitForAll()
        }
        XCTAssertEqual(server.requests.count, 100)
        XCTAssertLessThanOrEqual(server.peakOpenConnectionCount, 4 * loops)
    }

    func testWaiterTimesOutWhenTheOnlyConnectionIsBusy() async throws {
        let server = try await startServer()
        let agent = makeAgent {
            $0.maxConnectionsPerOrigin = 1
            $0.poolWaitTimeout = .milliseconds(100)
        }
        let slow = Task { try await agent.getString(server.url("/delay?ms=1500")) }
        try await waitUntil { server.requests.count == 1 }
        await assertThrowsTernError(code: .poolWaitTimeout, phase: .pool) {
            try await agent.get(server.url("/hello"))
        }
        let slowText = try await slow.value
        XCTAssertEqual(slowText, "Hello, world!")
        // The waiter never reached the server, and the busy connection is reused afterwards.
        XCTAssertEqual(server.requests.count, 1)
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testTooManyWaitersFailsAtOnce() async throws {
        let server = try await startServer()
        let agent = makeAgent {
            $0.maxConnectionsPerOrigin = 1
            $0.maxWaitersPerOrigin = 1
        }
        let first = Task { try await agent.getString(server.url("/delay?ms=2500")) }
        try await waitUntil { server.requests.count == 1 }
        let second = Task { try await agent.getString(server.url("/hello")) }
        // Give the second request time to queue as the single waiter.
        try await Task.sleep(for: .milliseconds(200))
        await assertThrowsTernError(code: .tooManyWaiters, phase: .pool) {
            try await agent.get(server.url("/hello"))
        }
        let firstText = try await first.value
        let secondText = try await second.value
        XCTAssertEqual(firstText, "Hello, world!")
        XCTAssertEqual(secondText, "Hello, world!")
    }

    func testStaleConnectionClosedSilentlyAfterEachResponseIsRetried() async throws {
        let server = try await startServer(behavior: .closeAfterEachResponse)
        let agent = makeAgent()
        for _ in 0..<10 {
            try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        }
        // Each connection carried one response; a request written to an already closed connection never reached
        // the server, so it was either retried or the close was noticed before reuse.
        XCTAssertEqual(server.requests.count, 10)
        XCTAssertEqual(server.connectionCount, 10)
    }

    func testRequestOnReusedConnectionThatServerDropsIsRetriedOnce() async throws {
        // The server answers the first request of each connection and drops the connection, unanswered, when a
        // second request arrives on it: every request after the first meets a stale pooled connection.
        let server = try await startServer(behavior: .closeReusedConnections)
        let agent = makeAgent()
        for _ in 0..<5 {
            try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        }
        // 1 + 4 × (stale attempt + retry) request heads, on 1 + 4 connections.
        XCTAssertEqual(server.connectionCount, 5)
        XCTAssertEqual(server.requests.count, 9)
    }

    func testNoRetryWhenDisabled() async throws {
        let server = try await startServer(behavior: .closeReusedConnections)
        let agent = makeAgent { $0.retryStaleConnections = false }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        await assertThrowsTernError(oneOf: [.remoteClosed, .writeFailed]) {
            try await agent.get(server.url("/hello"))
        }
        XCTAssertEqual(server.connectionCount, 1)
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testPostWithStreamedBodyIsNotRetried() async throws {
        // The body parks after its first chunk: see `ParkedAfterFirstChunkStream`.
        let server = try await startServer(behavior: .closeReusedConnectionsOnBody)
        let agent = makeAgent()
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        let request = Request(
            method: .post, url: server.url("/sink"),
            body: .stream(ParkedAfterFirstChunkStream(), length: nil)
        )
        await assertThrowsTernError(oneOf: [.remoteClosed, .writeFailed]) {
            try await agent.execute(request)
        }
        XCTAssertEqual(server.connectionCount, 1, "a streamed body cannot be replayed: no second connection")
        XCTAssertEqual(server.requests.map(\.head.method), [.GET, .POST])
    }

    func testIdempotentPutWithStartedStreamedBodyIsNotRetried() async throws {
        // The server drops the reused connection only once body bytes arrived: the stream has been consumed
        // and cannot be replayed, even though PUT is idempotent.
        let server = try await startServer(behavior: .closeReusedConnectionsOnBody)
        let agent = makeAgent()
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        let request = Request(
            method: .put, url: server.url("/sink"),
            body: .stream(ParkedAfterFirstChunkStream(), length: nil)
        )
        await assertThrowsTernError(oneOf: [.remoteClosed, .writeFailed]) {
            try await agent.execute(request)
        }
        XCTAssertEqual(server.connectionCount, 1)
        XCTAssertEqual(server.requests.map(\.head.method), [.GET, .PUT])
    }

    func testPostWithBytesBodyIsNotRetried() async throws {
        // POST is not idempotent (RFC 9110 §9.2.2): even a replayable body is not sent twice.
        let server = try await startServer(behavior: .closeReusedConnections)
        let agent = makeAgent()
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        await assertThrowsTernError(oneOf: [.remoteClosed, .writeFailed]) {
            try await agent.execute(Request(method: .post, url: server.url("/echo"), body: .string("once")))
        }
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testConnectionCloseResponseIsNotReused() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let response = try await agent.get(server.url("/close"))
        try await assertEqual(await response.string(), "bye")
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        XCTAssertEqual(server.connectionCount, 2)
    }

    func testHTTP10ResponseIsNotReused() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let response = try await agent.get(server.url("/http10"))
        XCTAssertEqual(response.version, "HTTP/1.0")
        try await assertEqual(await response.string(), "HTTP/1.0 body")
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        XCTAssertEqual(server.connectionCount, 2)
    }

    func testIdleConnectionIsClosedAfterIdleTimeout() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.idleTimeout = .milliseconds(200) }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        try await waitUntil { server.openConnectionCount == 0 }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        XCTAssertEqual(server.connectionCount, 2)
    }

    /// One sweep timer serves the idle connections: a connection used again before its deadline
    /// gets a new one (it is not closed when the timer armed for its first idle spell fires), and
    /// it does close once it has really sat idle for the timeout.
    func testIdleDeadlineMovesWithEachUse() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.idleTimeout = .milliseconds(300) }
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .milliseconds(1000) {
            try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(server.connectionCount, 1, "reused throughout: each use moved its idle deadline")
        XCTAssertEqual(server.openConnectionCount, 1)
        let idleFrom = ContinuousClock.now
        try await waitUntil(timeout: .seconds(3)) { server.openConnectionCount == 0 }
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - idleFrom, .milliseconds(150), "not closed before its time")
    }

    func testServerKeepAliveTimeoutShortensIdleTimeout() async throws {
        let server = try await startServer()
        let agent = makeAgent()  // idleTimeout 60 s; the server says 1 s
        let response = try await agent.get(server.url("/keepalive?timeout=1"))
        try await assertEqual(await response.string(), "ok")
        try await waitUntil(timeout: .seconds(3)) { server.openConnectionCount == 0 }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        XCTAssertEqual(server.connectionCount, 2)
    }

    func testUnreadBodyDoesNotPoisonThePool() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        do {
            let response = try await agent.get(server.url("/bytes/1048576"))
            XCTAssertEqual(response.status.code, 200)
            // dropped without reading the body
        }
        for _ in 0..<3 {
            try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        }
    }

    func testShutdownClosesPooledConnections() async throws {
        let server = try await startServer()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let agent = Agent(configuration: .init(), eventLoopGroup: group)
        do {
            try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        } catch {
            XCTFail("\(error)")
        }
        try await agent.shutdown()
        try await waitUntil { server.openConnectionCount == 0 }
        await assertThrowsTernError(code: .shutdown) {
            try await agent.get(server.url("/hello"))
        }
        try await group.shutdownGracefully()
    }
}
