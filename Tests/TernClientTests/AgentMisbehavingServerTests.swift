import NIOCore
import TernClient
import XCTest

/// Servers that break the protocol on purpose. Each failure is typed and placed, and the agent recovers: the next
/// request to the same server succeeds.
final class AgentMisbehavingServerTests: XCTestCase {
    func testCloseMidBodyFailsTheBodyRead() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let response = try await agent.get(server.url("/close-mid-body"))
        XCTAssertEqual(response.status.code, 200)
        let error = await assertThrowsTernError(code: .remoteClosed, phase: .read) {
            try await response.bytes()
        }
        XCTAssertEqual(error?.address, "127.0.0.1:\(server.port)")
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testGarbageIsAnInvalidResponse() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        await assertThrowsTernError(code: .invalidResponse, phase: .read) {
            try await agent.get(server.url("/garbage"))
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        XCTAssertEqual(server.connectionCount, 2, "the connection that carried garbage is not reused")
    }

    func testCloseBeforeResponseIsRemoteClosed() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.retryStaleConnections = false }
        await assertThrowsTernError(code: .remoteClosed) {
            try await agent.get(server.url("/close-before-response"))
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testCloseBeforeResponseOnAFreshConnectionIsNotRetried() async throws {
        // Retrying is for reused connections only: a fresh connection that closes is the server's answer.
        let server = try await startServer()
        let agent = makeAgent()
        await assertThrowsTernError(code: .remoteClosed) {
            try await agent.get(server.url("/close-before-response"))
        }
        XCTAssertEqual(server.requests.count, 1)
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testCloseBeforeResponseOnAReusedConnectionFailsAfterOneRetry() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        await assertThrowsTernError(code: .remoteClosed) {
            try await agent.get(server.url("/close-before-response"))
        }
        // first attempt on the pooled connection, one retry on a fresh one, no more
        XCTAssertEqual(server.requests.map(\.head.uri), ["/hello", "/close-before-response", "/close-before-response"])
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testMisbehaviourInARowLeavesTheAgentUsable() async throws {
        let server = try await startServer()
        let agent = makeAgent {
            $0.readTimeout = .milliseconds(200)
            $0.maxConnectionsPerOrigin = 2
        }
        for path in ["/garbage", "/close-before-response", "/never", "/garbage", "/never"] {
            do {
                let response = try await agent.get(server.url(path))
                _ = try await response.bytes()
                XCTFail("\(path) succeeded")
            } catch is TernClientError {
            }
        }
        for _ in 0..<3 {
            try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        }
    }

    func testResponseHeadTooLargeIsInvalid() async throws {
        // A 200 KiB header section exceeds the 80 KiB default bound.
        let server = try await startServer()
        let agent = makeAgent()
        await assertThrowsTernError(code: .invalidResponse, phase: .read) {
            try await agent.get(server.url("/huge-head"))
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }
}
