import NIOCore
import TernClient
import XCTest

/// Every timeout the agent has, each provoked on loopback. After each, the agent still serves a normal request.
///
/// A pure connect timeout is only attempted against a listener whose accept queue is full (see
/// `testConnectTimeoutAgainstAFullAcceptQueue`): loopback otherwise answers a SYN at once, and tests may not use
/// any other address.
final class AgentTimeoutTests: XCTestCase {
    func testReadTimeoutWhileAwaitingTheHead() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.readTimeout = .milliseconds(200) }
        await assertThrowsTernError(code: .readTimeout, phase: .read) {
            try await agent.get(server.url("/never"))
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        XCTAssertEqual(server.connectionCount, 2, "a timed-out connection is not reused")
    }

    func testReadTimeoutWhileReadingTheBody() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.readTimeout = .milliseconds(200) }
        await assertThrowsTernError(code: .readTimeout, phase: .read) {
            let response = try await agent.get(server.url("/slow-body?total=100&chunk=10&interval=2000"))
            return try await response.bytes()
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testReadTimeoutIsAboutSilenceNotTotalTime() async throws {
        // 10 bytes every 100 ms for 1.5 s in all, with a 1 s read timeout: never silent long enough.
        let server = try await startServer()
        let agent = makeAgent { $0.readTimeout = .seconds(1) }
        let response = try await agent.get(server.url("/slow-body?total=150&chunk=10&interval=100"))
        try await assertEqual(await response.bytes().readableBytes, 150)
    }

    func testDeadlineCoversTheBody() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        await assertThrowsTernError(code: .deadlineExceeded) {
            let response = try await agent.execute(Request(url: server.url("/slow-body")), timeout: .milliseconds(300))
            return try await response.bytes()
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testDeadlineWhileAwaitingTheHead() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.readTimeout = nil }
        await assertThrowsTernError(code: .deadlineExceeded) {
            try await agent.execute(Request(url: server.url("/never")), timeout: .milliseconds(300))
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testConfiguredRequestTimeoutIsTheDefaultDeadline() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.requestTimeout = .milliseconds(300) }
        await assertThrowsTernError(code: .deadlineExceeded) {
            try await agent.get(server.url("/delay?ms=3000"))
        }
        // A per-request timeout overrides it.
        let response = try await agent.execute(Request(url: server.url("/delay?ms=500")), timeout: .seconds(10))
        try await assertEqual(await response.string(), "Hello, world!")
    }

    func testTLSHandshakeTimeout() async throws {
        let server = try await startServer(behavior: .acceptOnly)
        let agent = makeAgent {
            $0.tlsHandshakeTimeout = .milliseconds(200)
            $0.tls.verification = .none
        }
        await assertThrowsTernError(code: .tlsHandshakeTimeout, phase: .tls) {
            try await agent.get("https://127.0.0.1:\(server.port)/hello")
        }
        let plain = try await startServer()
        try await assertEqual(await agent.getString(plain.url("/hello")), "Hello, world!")
    }

    func testConnectionRefused() async throws {
        let server = try await startServer()
        let port = server.port
        try await server.shutdown()
        let agent = makeAgent()
        let error = await assertThrowsTernError(code: .connectionRefused, phase: .connect) {
            try await agent.get("http://127.0.0.1:\(port)/hello")
        }
        XCTAssertEqual(error?.address, "127.0.0.1:\(port)")
    }

    func testConnectTimeoutAgainstAFullAcceptQueue() async throws {
        let listener = try FullAcceptQueueListener()
        defer { listener.close() }
        guard listener.isSaturated else {
            throw XCTSkip("cannot saturate a loopback accept queue here: a connect timeout is not deterministic")
        }
        let agent = makeAgent { $0.connectTimeout = .milliseconds(300) }
        await assertThrowsTernError(code: .connectTimeout, phase: .connect) {
            try await agent.get("http://127.0.0.1:\(listener.port)/hello")
        }
    }
}
