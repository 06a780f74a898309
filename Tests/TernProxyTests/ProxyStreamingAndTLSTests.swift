import Foundation
import HTTPTypes
import NIOCore
import TernClient
import TernTestSupport
import XCTest

@testable import TernProxy

final class ProxyStreamingAndTLSTests: ProxyTestCase {
    /// 1 GiB each way through the proxy; client, proxy and origin share this process, so a proxy
    /// that buffered bodies would show in its RSS.
    func testOneGibibyteBothWaysWithMemoryBounded() async throws {
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy("route / {\n proxy http://127.0.0.1:\(a.port)\n max-body 2g\n}")
        let size = Int(ProcessInfo.processInfo.environment["TERN_STREAM_SIZE"] ?? "") ?? (1 << 30)
        let before = residentMemory()

        let download = try await self.client.execute(Request(url: "http://127.0.0.1:\(port)/bytes/\(size)"))
        var received = 0
        for try await chunk in download.body { received += chunk.readableBytes }
        XCTAssertEqual(received, size)
        let afterDownload = residentMemory() - before
        XCTAssertLessThan(afterDownload, 100 << 20, "memory grew by \(afterDownload >> 20) MiB while streaming 1 GiB down")

        let chunk = ByteBuffer(repeating: UInt8(ascii: "y"), count: 64 * 1024)
        let upload = AsyncStream<ByteBuffer> { continuation in
            for _ in 0..<(size / chunk.readableBytes) { continuation.yield(chunk) }
            continuation.finish()
        }
        // AsyncStream buffers everything it is given up front (16384 copies of one shared buffer:
        // no real memory), so the growth we measure is the proxy's and the agent's.
        let response = try await self.client.execute(
            Request(method: .post, url: "http://127.0.0.1:\(port)/sink", body: .stream(upload, length: size))
        )
        try await assertEqualAsync(await response.string(), "\(size)")
        let growth = residentMemory() - before
        XCTAssertLessThan(growth, 100 << 20, "memory grew by \(growth >> 20) MiB while streaming 2 GiB")
    }

    /// A client that stops reading holds the upstream back: the proxy reads the origin's body only
    /// as fast as the client's connection takes it (its writability), so a 512 MiB download that
    /// nobody reads leaves the process's memory where it was, not holding the body.
    func testAClientThatStopsReadingHoldsTheUpstreamBack() async throws {
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(a.port) }")
        let before = residentMemory()
        let connection = try RawConnection(port: port)
        connection.send("GET /bytes/\(512 << 20) HTTP/1.1\r\nHost: x\r\n\r\n")
        try await Task.sleep(for: .seconds(2))
        let growth = residentMemory() - before
        XCTAssertLessThan(growth, 128 << 20, "memory grew by \(growth >> 20) MiB behind a client that reads nothing")
        withExtendedLifetime(connection) {}
    }

    func testSNIChoosesTheCertificate() async throws {
        let pki = try TestPKI()
        let alpha = try pki.issue("alpha", names: ["alpha.test"])
        let beta = try pki.issue("beta", names: ["beta.test", "*.beta.test"])
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy(
            "route / { proxy http://127.0.0.1:\(a.port) }",
            listen: """
                listen ssl:0:interface=127.0.0.1:privateKey=\(alpha.key):certKey=\(alpha.certificate) {
                    certificate cert=\(beta.certificate) key=\(beta.key)
                }
                """
        )
        var configuration = Agent.Configuration()
        configuration.tls.trustRoots = .pemFile(pki.caCertificate)
        let agent = Agent(configuration: configuration)
        self.cleanups.append { try await agent.shutdown() }
        // The agent verifies the certificate against the name it sends in SNI: a wrong pick fails.
        for name in ["alpha.test", "beta.test", "www.beta.test"] {
            var tls = configuration.tls
            tls.serverName = name
            var agentConfiguration = configuration
            agentConfiguration.tls = tls
            let perName = Agent(configuration: agentConfiguration)
            self.cleanups.append { try await perName.shutdown() }
            let response = try await perName.get("https://127.0.0.1:\(port)/hello", headerFields: [HTTPField.Name("Host")!: name])
            XCTAssertEqual(response.status.code, 200, name)
            let body = try await response.string()
            XCTAssertTrue(body.contains("x-forwarded-proto: https"), body)
        }
    }

    func testGracefulShutdownFinishesTheDownloadInFlight() async throws {
        let a = try await self.origin("a")
        let (server, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(a.port) }")
        let size = 64 << 20
        let response = try await self.client.execute(Request(url: "http://127.0.0.1:\(port)/bytes/\(size)"))
        let shutdown = Task { try await server.shutdown(timeout: .seconds(20)) }
        var received = 0
        for try await chunk in response.body { received += chunk.readableBytes }
        XCTAssertEqual(received, size, "the exchange in flight completes")
        try await shutdown.value
        await XCTAssertThrowsErrorAsync(try await self.client.get("http://127.0.0.1:\(port)/hello"), "no longer accepting")
    }

    func testReloadUnderLoadLosesNoRequest() async throws {
        let a = try await self.origin("a")
        let b = try await self.origin("b")
        let (server, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(a.port) }")
        let client = self.client
        let load = Task {
            var names: [String] = []
            for _ in 0..<200 {
                let response = try await client.get("http://127.0.0.1:\(port)/x")
                guard response.status.code == 200 else { throw TestFailure(message: "status \(response.status.code)") }
                names.append(String(try await response.string().prefix(1)))
            }
            return names
        }
        try await Task.sleep(for: .milliseconds(30))
        var reloaded = try ProxyConfiguration.parse(
            "listen tcp:0:interface=127.0.0.1\naccess-log off\nroute / { proxy http://127.0.0.1:\(b.port) }",
            file: "new.conf", baseDirectory: "/tmp"
        )
        reloaded.listeners = server.configurationListeners
        try server.reload(reloaded)
        let names = try await load.value
        XCTAssertEqual(names.count, 200)
        XCTAssertEqual(names.last, "b", "the new routes serve after the reload")
        // A bad configuration is refused and the old one keeps serving.
        var broken = reloaded
        broken.errorPages = [502: "/nonexistent/page.mustache"]
        XCTAssertThrowsError(try server.reload(broken))
        let (status, body, _) = try await self.get(port, "/y")
        XCTAssertEqual(status, 200)
        XCTAssertTrue(body.hasPrefix("b "))
    }
}

struct TestFailure: Error { var message: String }

func XCTAssertThrowsErrorAsync<T>(_ expression: @autoclosure () async throws -> T, _ message: String, file: StaticString = #filePath, line: UInt = #line) async {
    do {
        _ = try await expression()
        XCTFail("expected an error: \(message)", file: file, line: line)
    } catch {}
}
