import HTTPTypes
import NIOCore
import TernClient
import XCTest

/// The request and response conveniences, checked by what actually crosses the socket.
final class AgentRequestConveniencesTests: XCTestCase {
    private struct Payload: Codable, Equatable {
        var name: String
        var count: Int
    }

    func testJSONRoundTrip() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let sent = Payload(name: "tern", count: 3)
        let response = try await agent.execute(try Request.json(url: server.url("/echo"), sent))
        try await assertEqual(await response.decode(Payload.self), sent)
        let head = try XCTUnwrap(server.requestHeads.last)
        XCTAssertEqual(head.method, .POST)
        XCTAssertEqual(head.headers["Content-Type"].first, "application/json")
    }

    func testDecodeFailureIsAnError() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let response = try await agent.get(server.url("/hello"))
        do {
            _ = try await response.decode(Payload.self)
            XCTFail("decoded 'Hello, world!' as JSON")
        } catch {
            // any error: DecodingError or a TernClientError wrapping it
        }
    }

    func testFormBody() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let request = Request.form(url: server.url("/echo"), [("q", "a b&c=d"), ("x", "1")])
        let response = try await agent.execute(request)
        try await assertEqual(await response.string(), "q=a+b%26c%3Dd&x=1")
        XCTAssertEqual(server.requestHeads.last?.headers["Content-Type"].first, "application/x-www-form-urlencoded")
    }

    func testQueryItemsArePercentEncodedAsASCII() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        var request = Request(url: server.url("/hello"))
        request.setQueryItems([("name", "café"), ("path", "a/b?c")])
        let response = try await agent.execute(request)
        try await assertEqual(await response.string(), "Hello, world!")
        // RFC 3986 §2.5: non-ASCII characters are sent as percent-encoded UTF-8.
        XCTAssertEqual(server.requestHeads.last?.uri, "/hello?name=caf%C3%A9&path=a%2Fb%3Fc")
    }

    func testBasicAuthAndBearerToken() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        var basic = Request(url: server.url("/hello"))
        basic.setBasicAuth(user: "user", password: "pa:ss")
        _ = try await agent.execute(basic).bytes()
        XCTAssertEqual(server.requestHeads.last?.headers["Authorization"].first, "Basic dXNlcjpwYTpzcw==")

        var bearer = Request(url: server.url("/hello"))
        bearer.setBearerToken("t0ken")
        _ = try await agent.execute(bearer).bytes()
        XCTAssertEqual(server.requestHeads.last?.headers["Authorization"].first, "Bearer t0ken")
    }

    func testUserInfoInTheURLBecomesBasicAuth() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        _ = try await agent.get("http://user:secret@127.0.0.1:\(server.port)/hello").bytes()
        XCTAssertEqual(server.requestHeads.last?.headers["Authorization"].first, "Basic dXNlcjpzZWNyZXQ=")
        XCTAssertEqual(server.requestHeads.last?.headers["Host"].first, "127.0.0.1:\(server.port)")
    }

    func testCallerHeadersAreSentAsGiven() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        var fields = HTTPFields()
        fields[.userAgent] = "custom/1"
        fields[HTTPField.Name("X-Trace")!] = "abc"
        fields.append(HTTPField(name: HTTPField.Name("X-Multi")!, value: "1"))
        fields.append(HTTPField(name: HTTPField.Name("X-Multi")!, value: "2"))
        let response = try await agent.get(server.url("/headers"), headerFields: fields)
        let lines = try await response.string().lowercased().split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("user-agent: custom/1"), "\(lines)")
        XCTAssertFalse(lines.contains("user-agent: tern/\(ternVersion)"), "\(lines)")
        XCTAssertTrue(lines.contains("x-trace: abc"), "\(lines)")
        XCTAssertEqual(lines.filter { $0.hasPrefix("x-multi:") }, ["x-multi: 1", "x-multi: 2"])
    }

    func testPostPutDeleteHelpers() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let xMethod = HTTPField.Name("X-Method")!
        let posted = try await agent.post(server.url("/echo"), body: .string("p"))
        XCTAssertEqual(posted.headerFields[xMethod], "POST")
        try await assertEqual(await posted.string(), "p")
        let put = try await agent.put(server.url("/echo"), body: .string("u"))
        XCTAssertEqual(put.headerFields[xMethod], "PUT")
        try await assertEqual(await put.string(), "u")
        let deleted = try await agent.delete(server.url("/echo"))
        XCTAssertEqual(deleted.headerFields[xMethod], "DELETE")
        try await assertEqual(await deleted.string(), "")
    }
}
