import HTTPTypes
import NIOCore
import TernClient
import XCTest

/// Redirects over real sockets (RFC 9110 §15.4): method rewriting, credentials across origins, loops and limits.
/// `127.0.0.1` and `localhost` name the same listener but are two origins.
final class AgentRedirectTests: XCTestCase {
    private let xMethod = HTTPField.Name("X-Method")!
    private let xBodyLength = HTTPField.Name("X-Body-Length")!

    private func post(
        _ agent: Agent,
        _ url: String,
        method: HTTPRequest.Method = .post,
        body: String = "payload"
    ) async throws -> (Response, String) {
        let response = try await agent.execute(Request(method: method, url: url, body: .string(body)))
        return (response, try await response.string())
    }

    func testMovedAndFoundTurnPostIntoGet() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        for code in [301, 302] {
            let (response, body) = try await post(agent, server.url("/redirect/\(code)?to=/echo"))
            XCTAssertEqual(response.status.code, 200, "\(code)")
            XCTAssertEqual(response.headerFields[xMethod], "GET", "\(code)")
            XCTAssertEqual(response.headerFields[xBodyLength], "0", "\(code)")
            XCTAssertEqual(body, "", "\(code)")
            XCTAssertEqual(response.url, server.url("/echo"))
            // The body's framing headers went with the body.
            let last = try XCTUnwrap(server.requestHeads.last)
            XCTAssertNil(last.headers.first(name: "Content-Length").flatMap { $0 == "0" ? nil : $0 }, "\(code)")
            XCTAssertFalse(last.headers.contains(name: "Transfer-Encoding"), "\(code)")
        }
    }

    func testMovedKeepsPutAndItsBody() async throws {
        // Only POST is rewritten on 301/302 (RFC 9110 §15.4.2, .3).
        let server = try await startServer()
        let agent = makeAgent()
        let (response, body) = try await post(agent, server.url("/redirect/301?to=/echo"), method: .put, body: "put body")
        XCTAssertEqual(response.headerFields[xMethod], "PUT")
        XCTAssertEqual(body, "put body")
    }

    func testSeeOtherTurnsAnythingButHeadIntoGet() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        for method in [HTTPRequest.Method.post, .put, .delete, .patch] {
            let (response, body) = try await post(agent, server.url("/redirect/303?to=/echo"), method: method)
            XCTAssertEqual(response.headerFields[xMethod], "GET", "\(method)")
            XCTAssertEqual(body, "", "\(method)")
        }
        let head = try await agent.execute(Request(method: .head, url: server.url("/redirect/303?to=/echo")))
        XCTAssertEqual(head.status.code, 200)
        XCTAssertEqual(server.requestHeads.last?.method, .HEAD)
        XCTAssertEqual(server.requestHeads.last?.uri, "/echo")
    }

    func testTemporaryAndPermanentRedirectKeepMethodAndBody() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        for code in [307, 308] {
            let (response, body) = try await post(agent, server.url("/redirect/\(code)?to=/echo"))
            XCTAssertEqual(response.status.code, 200, "\(code)")
            XCTAssertEqual(response.headerFields[xMethod], "POST", "\(code)")
            XCTAssertEqual(body, "payload", "\(code)")
        }
    }

    func testStreamedBodyIsNotResentOn307() async throws {
        // A consumed stream cannot be sent again: the 307 is handed to the caller.
        let server = try await startServer()
        let agent = makeAgent()
        let stream = RepeatingByteStream(total: 1000, chunkSize: 100)
        let response = try await agent.execute(
            Request(method: .post, url: server.url("/redirect/307?to=/echo"), body: .stream(stream, length: 1000))
        )
        XCTAssertEqual(response.status.code, 307)
        try await assertEqual(await response.string(), "redirecting")
        XCTAssertEqual(server.requests.count, 1)
    }

    func testStreamedBodyIsDroppedOn303() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let stream = RepeatingByteStream(total: 1000, chunkSize: 100)
        let response = try await agent.execute(
            Request(method: .post, url: server.url("/redirect/303?to=/echo"), body: .stream(stream, length: nil))
        )
        XCTAssertEqual(response.headerFields[xMethod], "GET")
        try await assertEqual(await response.string(), "")
    }

    func testRelativeLocationsAreResolved() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        // RFC 3986 §5.2: against /redirect/302, "../hello" is /hello and "hello" is /redirect/hello.
        let dotted = try await agent.get(server.url("/redirect/302?to=../hello"))
        try await assertEqual(await dotted.string(), "Hello, world!")
        XCTAssertEqual(dotted.url, server.url("/hello"))
        let networkPath = try await agent.get(server.url("/redirect/302?to=//localhost:\(server.port)/hello"))
        try await assertEqual(await networkPath.string(), "Hello, world!")
        XCTAssertEqual(networkPath.url, server.url("/hello", host: "localhost"))
    }

    func testRedirectToAnUnsupportedSchemeFails() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        await assertThrowsTernError(oneOf: [.invalidURL, .unsupportedScheme], phase: .redirect) {
            try await agent.get(server.url("/redirect/302?to=ftp://127.0.0.1/file"))
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testCredentialsAreDroppedAcrossOrigins() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let target = server.url("/headers", host: "localhost")
        let lines = try await headersAfterRedirect(agent, from: server.url("/redirect/302?to=\(target)"))
        XCTAssertFalse(lines.contains { $0.hasPrefix("authorization:") }, "\(lines)")
        XCTAssertFalse(lines.contains { $0.hasPrefix("cookie:") }, "\(lines)")
        XCTAssertTrue(lines.contains("x-custom: kept"), "\(lines)")
        XCTAssertTrue(lines.contains("host: localhost:\(server.port)"), "\(lines)")
    }

    func testCredentialsAreKeptOnTheSameOrigin() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let lines = try await headersAfterRedirect(agent, from: server.url("/redirect/302?to=/headers"))
        XCTAssertTrue(lines.contains("authorization: Bearer secret"), "\(lines)")
        XCTAssertTrue(lines.contains("cookie: session=1"), "\(lines)")
        XCTAssertTrue(lines.contains("x-custom: kept"), "\(lines)")
        XCTAssertEqual(server.connectionCount, 1, "a same-origin redirect reuses the connection")
    }

    func testCredentialsAreDroppedWhenThePortChanges() async throws {
        let server = try await startServer()
        let other = try await startServer()
        let agent = makeAgent()
        let lines = try await headersAfterRedirect(agent, from: server.url("/redirect/307?to=\(other.url("/headers"))"))
        XCTAssertFalse(lines.contains { $0.hasPrefix("authorization:") }, "\(lines)")
        XCTAssertFalse(lines.contains { $0.hasPrefix("cookie:") }, "\(lines)")
        XCTAssertEqual(other.requests.count, 1)
    }

    func testRedirectLoopIsDetected() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        await assertThrowsTernError(code: .redirectLoop, phase: .redirect) {
            try await agent.get(server.url("/loop"))
        }
        XCTAssertLessThanOrEqual(server.requests.count, 2, "a loop is caught when a URL repeats, not at the limit")
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testRedirectLimit() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.redirects = .follow(max: 3) }
        let response = try await agent.get(server.url("/redirect-chain/3"))
        try await assertEqual(await response.string(), "done")
        XCTAssertEqual(response.url, server.url("/redirect-chain/0"))
        await assertThrowsTernError(code: .tooManyRedirects, phase: .redirect) {
            try await agent.get(server.url("/redirect-chain/4"))
        }
        XCTAssertEqual(server.requests.count, 4 + 4, "the fifth hop is not requested")
    }

    func testDisabledRedirectsReturnTheRedirect() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.redirects = .disabled }
        let response = try await agent.get(server.url("/redirect/302?to=/hello"))
        XCTAssertEqual(response.status.code, 302)
        XCTAssertEqual(response.headerFields[.location], "/hello")
        try await assertEqual(await response.string(), "redirecting")
        XCTAssertEqual(response.url, server.url("/redirect/302?to=/hello"))
        XCTAssertEqual(server.requests.count, 1)
    }

    func testAbsoluteRedirectToAnotherServer() async throws {
        let first = try await startServer()
        let second = try await startServer()
        let agent = makeAgent()
        let response = try await agent.get(first.url("/redirect/308?to=\(second.url("/hello"))"))
        try await assertEqual(await response.string(), "Hello, world!")
        XCTAssertEqual(response.url, second.url("/hello"))
        XCTAssertEqual(first.requests.count, 1)
        XCTAssertEqual(second.requests.count, 1)
    }

    private func headersAfterRedirect(_ agent: Agent, from url: String) async throws -> [String] {
        var fields = HTTPFields()
        fields[.authorization] = "Bearer secret"
        fields[.cookie] = "session=1"
        fields[HTTPField.Name("X-Custom")!] = "kept"
        let response = try await agent.execute(Request(url: url, headerFields: fields))
        XCTAssertEqual(response.status.code, 200)
        let text = try await response.string()
        // Names compared case-insensitively, values as sent.
        return text.split(separator: "\n").map { line in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts[0].lowercased() + ":" + (parts.count > 1 ? String(parts[1]) : "")
        }
    }
}
