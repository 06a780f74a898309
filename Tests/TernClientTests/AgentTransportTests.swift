import NIOCore
import TernClient
import XCTest

/// Address families and URL forms: IPv6 loopback, unix domain sockets (http+unix, https+unix).
final class AgentTransportTests: XCTestCase {
    func testUnixDomainSocket() async throws {
        let server = try await startServer(address: .unix(path: nil))
        let agent = makeAgent()
        XCTAssertTrue(server.baseURL.hasPrefix("http+unix://%2F"), server.baseURL)
        for _ in 0..<3 {
            try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        }
        let echo = try await agent.execute(Request(method: .post, url: server.url("/echo"), body: .string("over unix")))
        try await assertEqual(await echo.string(), "over unix")
        XCTAssertEqual(server.connectionCount, 1)
        XCTAssertEqual(server.requestHeads.first?.uri, "/hello")
    }

    func testUnixSocketPathKeepsItsCase() async throws {
        // A socket path is a file name, not a host name: it must not be case-folded like one.
        let path = "/tmp/Tern-Mixed-\(UUID().uuidString.prefix(8)).sock"
        let server = try await startServer(address: .unix(path: path))
        let agent = makeAgent()
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testUnixSocketThatDoesNotExist() async throws {
        let agent = makeAgent()
        let error = await assertThrowsTernError(oneOf: [.connectionRefused, .connectFailed], phase: .connect) {
            try await agent.get("http+unix://%2Ftmp%2Ftern-no-such-socket.sock/hello")
        }
        XCTAssertEqual(error?.address, "/tmp/tern-no-such-socket.sock")
    }

    func testTLSOverUnixDomainSocket() async throws {
        let certificates = try TestCertificates.shared()
        let server = try await startServer(
            address: .unix(path: nil),
            tls: .init(certificateChainPEMFile: certificates.localhostCertificate, privateKeyPEMFile: certificates.localhostKey)
        )
        let agent = makeAgent {
            $0.tls.trustRoots = .pemFile(certificates.caCertificate)
            $0.tls.serverName = "localhost"
        }
        XCTAssertTrue(server.baseURL.hasPrefix("https+unix://"), server.baseURL)
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testIPv6Loopback() async throws {
        let server: TestHTTPServer
        do {
            server = try await startServer(address: .ipv6)
        } catch {
            throw XCTSkip("no IPv6 loopback here: \(error)")
        }
        let agent = makeAgent()
        XCTAssertTrue(server.baseURL.hasPrefix("http://[::1]:"))
        for _ in 0..<3 {
            try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        }
        XCTAssertEqual(server.connectionCount, 1)
        let host = server.requestHeads.first?.headers["Host"].first
        XCTAssertEqual(host, "[::1]:\(server.port)")
    }

    func testHostHeaderAndUserAgent() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        _ = try await agent.getString(server.url("/hello"))
        let head = try XCTUnwrap(server.requestHeads.first)
        XCTAssertEqual(head.headers["Host"].first, "127.0.0.1:\(server.port)")
        XCTAssertEqual(head.headers["User-Agent"].first, "tern/\(ternVersion)")
        XCTAssertEqual(head.version, .http1_1)

        let anonymous = makeAgent { $0.userAgent = nil }
        _ = try await anonymous.getString(server.url("/hello"))
        XCTAssertFalse(server.requestHeads.last?.headers.contains(name: "User-Agent") ?? true)
    }

    func testQueryAndPathArePreserved() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        var request = Request(url: server.url("/status/404?a=1"))
        request.setQueryItems([("q", "a b&c")])
        _ = try await agent.execute(request).bytes()
        let uri = try XCTUnwrap(server.requestHeads.last?.uri)
        XCTAssertTrue(uri.hasPrefix("/status/404?a=1&q=a"), uri)
        XCTAssertFalse(uri.contains(" "), uri)
    }

    func testInvalidURLAndScheme() async throws {
        let agent = makeAgent()
        await assertThrowsTernError(code: .unsupportedScheme) {
            try await agent.get("ftp://127.0.0.1/file")
        }
        await assertThrowsTernError(code: .invalidURL) {
            try await agent.get("http://")
        }
    }
}
