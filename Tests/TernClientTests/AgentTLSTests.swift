import NIOCore
import TernClient
import XCTest

/// TLS against a loopback server whose certificates come from a CA made at test time (`TestCertificates`).
final class AgentTLSTests: XCTestCase {
    private var certificates: TestCertificates!

    override func setUpWithError() throws {
        certificates = try TestCertificates.shared()
    }

    private func startTLSServer(wrongName: Bool = false, requireClientCertificate: Bool = false) async throws -> TestHTTPServer {
        let tls = TestHTTPServer.TLS(
            certificateChainPEMFile: wrongName ? certificates.wrongNameCertificate : certificates.localhostCertificate,
            privateKeyPEMFile: wrongName ? certificates.wrongNameKey : certificates.localhostKey,
            clientCAPEMFile: requireClientCertificate ? certificates.caCertificate : nil
        )
        return try await startServer(tls: tls)
    }

    private func trustingAgent(_ configure: (inout TLSSettings) -> Void = { _ in }) -> Agent {
        let ca = certificates.caCertificate
        return makeAgent {
            $0.tls.trustRoots = .pemFile(ca)
            configure(&$0.tls)
        }
    }

    func testCustomCAIsAccepted() async throws {
        let server = try await startTLSServer()
        let agent = trustingAgent()
        try await assertEqual(await agent.getString(server.url("/hello", host: "localhost")), "Hello, world!")
        // The leaf also names IP 127.0.0.1.
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    /// Bulk receive counts decrypted bytes but sets the mark on the socket, whose bytes are
    /// ciphertext: more of them than the body's, so the raised mark can always be reached.
    func testALongBodyOverTLSIsReadInBulk() async throws {
        #if !os(Linux)
        throw XCTSkip("the receive low-water mark is raised on Linux only")
        #endif
        let server = try await startTLSServer()
        let agent = trustingAgent()
        let length = 8 << 20
        let response = try await agent.get(server.url("/bytes/\(length)", host: "localhost"))
        let (total, highest) = try await SocketLowWater.readBody(of: response, connectedTo: server.port)
        XCTAssertEqual(total, length)
        XCTAssertEqual(highest, 256 * 1024)
        XCTAssertEqual(SocketLowWater.marks(ofSocketsConnectedTo: server.port), [1])
        try await assertEqual(await agent.getString(server.url("/hello", host: "localhost")), "Hello, world!")
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testTLSConnectionsAreReused() async throws {
        let server = try await startTLSServer()
        let agent = trustingAgent()
        for _ in 0..<10 {
            try await assertEqual(await agent.getString(server.url("/hello", host: "localhost")), "Hello, world!")
        }
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testSystemRootsRejectTheTestCA() async throws {
        let server = try await startTLSServer()
        let agent = makeAgent()
        await assertThrowsTernError(code: .tlsFailed, phase: .tls) {
            try await agent.get(server.url("/hello", host: "localhost"))
        }
        XCTAssertTrue(server.requests.isEmpty)
    }

    func testSystemAndCustomRootsAccept() async throws {
        let server = try await startTLSServer()
        let ca = certificates.caCertificate
        let agent = makeAgent { $0.tls.trustRoots = .systemAnd(pemFile: ca) }
        try await assertEqual(await agent.getString(server.url("/hello", host: "localhost")), "Hello, world!")
    }

    func testNameMismatchIsRejected() async throws {
        let server = try await startTLSServer(wrongName: true)
        let agent = trustingAgent()
        let error = await assertThrowsTernError(code: .tlsFailed, phase: .tls) {
            try await agent.get(server.url("/hello", host: "localhost"))
        }
        XCTAssertEqual(error?.address?.hasSuffix(":\(server.port)"), true, "\(String(describing: error))")
        XCTAssertTrue(server.requests.isEmpty)
        // An IP literal is checked against IP SANs: wrong.example has none.
        await assertThrowsTernError(code: .tlsFailed, phase: .tls) {
            try await agent.get(server.url("/hello"))
        }
    }

    func testNoHostnameVerificationAcceptsAnotherName() async throws {
        let server = try await startTLSServer(wrongName: true)
        let agent = trustingAgent { $0.verification = .noHostnameVerification }
        try await assertEqual(await agent.getString(server.url("/hello", host: "localhost")), "Hello, world!")
    }

    func testServerNameOverridesTheURLHost() async throws {
        let server = try await startTLSServer(wrongName: true)
        let agent = trustingAgent { $0.serverName = "wrong.example" }
        try await assertEqual(await agent.getString(server.url("/hello", host: "localhost")), "Hello, world!")
    }

    func testVerificationNoneAcceptsAnything() async throws {
        let server = try await startTLSServer(wrongName: true)
        let agent = makeAgent { $0.tls.verification = .none }
        try await assertEqual(await agent.getString(server.url("/hello", host: "localhost")), "Hello, world!")
    }

    func testClientCertificateIsPresented() async throws {
        let server = try await startTLSServer(requireClientCertificate: true)
        let (chain, key) = (certificates.clientCertificate, certificates.clientKey)
        let agent = trustingAgent {
            $0.certificateChainPEMFile = chain
            $0.privateKeyPEMFile = key
        }
        try await assertEqual(await agent.getString(server.url("/hello", host: "localhost")), "Hello, world!")
        XCTAssertEqual(server.requests.count, 1)
    }

    func testMissingClientCertificateFails() async throws {
        let server = try await startTLSServer(requireClientCertificate: true)
        let agent = trustingAgent()
        // With TLS 1.3 the server's refusal can arrive after the client considers the handshake done, so the
        // failure may surface while writing or reading; it must still be an error, and no request is served.
        await assertThrowsTernError(oneOf: [.tlsFailed, .remoteClosed, .writeFailed]) {
            try await agent.get(server.url("/hello", host: "localhost"))
        }
        XCTAssertTrue(server.requests.isEmpty)
    }

    func testPlainHTTPToATLSServerFails() async throws {
        let server = try await startTLSServer()
        let agent = trustingAgent()
        await assertThrowsTernError(oneOf: [.invalidResponse, .remoteClosed]) {
            try await agent.get("http://127.0.0.1:\(server.port)/hello")
        }
    }
}
