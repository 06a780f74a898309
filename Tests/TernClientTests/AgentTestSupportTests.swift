import NIOCore
import XCTest

/// Checks the test server and helpers themselves, with raw sockets, so that agent test failures point at the agent.
final class AgentTestSupportTests: XCTestCase {
    func testServerAnswersAndCounts() async throws {
        let server = try await TestHTTPServer().start()
        let response = try await RawHTTPClient.exchange(
            port: server.port,
            send: "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /chunked/100000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        try await server.shutdown()
        XCTAssertTrue(response.hasPrefix("HTTP/1.1 200 OK\r\n"), response)
        XCTAssertTrue(response.contains("Hello, world!"))
        XCTAssertTrue(response.contains("Transfer-Encoding: chunked"))
        XCTAssertTrue(response.hasSuffix("0\r\n\r\n"))
        XCTAssertEqual(server.connectionCount, 1)
        XCTAssertEqual(server.requestHeads.map(\.uri), ["/hello", "/chunked/100000"])
    }

    func testCompressedPayloadsAreSmall() {
        let gzip = TestPayloads.compressedText(encoding: "gzip")
        XCTAssertEqual(gzip.getBytes(at: gzip.readerIndex, length: 2), [0x1F, 0x8B])
        XCTAssertLessThan(gzip.readableBytes, TestPayloads.text.utf8.count / 10)
        let deflate = TestPayloads.compressedZeros(count: 8 << 20, encoding: "deflate")
        XCTAssertEqual(deflate.getInteger(at: deflate.readerIndex, as: UInt8.self), 0x78)  // zlib header
        XCTAssertLessThan(deflate.readableBytes, 100_000)
    }

    func testCertificatesAreGenerated() throws {
        let certificates = try TestCertificates.shared()
        for path in [certificates.caCertificate, certificates.localhostCertificate, certificates.clientKey] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), path)
        }
        XCTAssertEqual(try TestCertificates.shared().directory, certificates.directory)
    }

    func testUnixSocketServer() async throws {
        let server = try await TestHTTPServer(address: .unix(path: nil)).start()
        let path = try XCTUnwrap(server.socketPath)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), path)
        let response = try await RawHTTPClient.exchange(
            unixSocketPath: path, send: "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        try await server.shutdown()
        XCTAssertTrue(response.hasSuffix("Hello, world!"), response)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testResidentMemoryIsReadable() throws {
        let rss = try XCTUnwrap(ProcessMemory.residentBytes())
        XCTAssertGreaterThan(rss, 1 << 20)
    }

    func testMisbehavingRoutes() async throws {
        let server = try await TestHTTPServer().start()
        let midBody = try await RawHTTPClient.exchange(port: server.port, send: "GET /close-mid-body HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(midBody.hasSuffix("\r\n\r\nxxxxxxxxxx"), midBody)
        let beforeResponse = try await RawHTTPClient.exchange(port: server.port, send: "GET /close-before-response HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(beforeResponse, "")
        let never = try await RawHTTPClient.exchange(port: server.port, send: "GET /never HTTP/1.1\r\nHost: x\r\n\r\n", timeout: .milliseconds(200))
        XCTAssertEqual(never, "")
        let eof = try await RawHTTPClient.exchange(port: server.port, send: "GET /http10?eof HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(eof, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nHTTP/1.0 body")
        try await server.shutdown()
        XCTAssertEqual(server.connectionCount, 4)
        XCTAssertEqual(server.openConnectionCount, 0)
    }
}
