import Foundation
import TernClient
import TernTestSupport
import XCTest

@testable import TernProxy

/// TLS clients that send garbage or stop mid-handshake are closed cleanly while others are
/// served; a reload whose certificate files are missing is refused and the old ones keep serving.
final class HardeningTLSTests: ProxyTestCase {
    func tlsProxy(_ pki: TestPKI, extra: String = "") async throws -> (ProxyServer, Int, Agent, String) {
        let pair = try pki.issue("site", names: ["site.test"])
        let origin = try await self.origin("a")
        let listen = "listen ssl:0:interface=127.0.0.1:privateKey=\(pair.key):certKey=\(pair.certificate)"
        let (server, port) = try await self.proxy(extra + "\nroute / { proxy http://127.0.0.1:\(origin.port) }", listen: listen)
        var configuration = Agent.Configuration()
        configuration.tls.trustRoots = .pemFile(pki.caCertificate)
        configuration.tls.serverName = "site.test"
        let agent = Agent(configuration: configuration)
        self.cleanups.append { try await agent.shutdown() }
        return (server, port, agent, listen)
    }

    func testGarbageAndStalledHandshakesAreClosedWhileOthersAreServed() async throws {
        let pki = try TestPKI()
        let (_, port, agent, _) = try await self.tlsProxy(pki, extra: "limits { header-timeout 1s }")
        // Plain HTTP to a TLS port, and random bytes: closed at once.
        for garbage in ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", String(repeating: "\u{16}\u{3}\u{1}zzzz", count: 50)] {
            let connection = try RawConnection(port: port, timeout: 3)
            connection.send(garbage)
            let started = Date()
            connection.readUntilClose()
            XCTAssertTrue(connection.closedByPeer, "garbage on a TLS port is closed")
            XCTAssertLessThan(Date().timeIntervalSince(started), 2.5)
            XCTAssertFalse(connection.text.contains("HTTP/1.1"), "no plaintext answer on a TLS port")
        }
        // A ClientHello cut short, and a connection that says nothing: held while others are
        // served, then closed by header-timeout.
        let partial = try RawConnection(port: port, timeout: 4)
        partial.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03])
        let silent = try RawConnection(port: port, timeout: 4)
        let response = try await agent.get("https://127.0.0.1:\(port)/while-stalled")
        XCTAssertEqual(response.status.code, 200)
        _ = try await response.string()
        let started = Date()
        partial.readUntilClose()
        silent.readUntilClose()
        XCTAssertTrue(partial.closedByPeer, "a handshake that never finishes is closed")
        XCTAssertTrue(silent.closedByPeer)
        XCTAssertLessThan(Date().timeIntervalSince(started), 3.5)
        let after = try await agent.get("https://127.0.0.1:\(port)/after")
        XCTAssertEqual(after.status.code, 200)
    }

    func testReloadWithMissingCertificateIsRefusedAndTheOldOneKeepsServing() async throws {
        let pki = try TestPKI()
        let (server, port, agent, _) = try await self.tlsProxy(pki)
        let missing = pki.directory + "/gone.pem"
        var reloaded = try ProxyConfiguration.parse(
            "listen ssl:0:interface=127.0.0.1:privateKey=\(missing):certKey=\(missing)\naccess-log off\nroute / { respond 200 \"new\" }",
            file: "reload.conf", baseDirectory: pki.directory)
        reloaded.listeners = server.configurationListeners.map { listener in
            var listener = listener
            if case .ssl(let port, let interface, var certificates) = listener.endpoint {
                certificates[0].certificateChainPath = missing
                certificates[0].privateKeyPath = missing
                listener.endpoint = .ssl(port: port, interface: interface, certificates: certificates)
            }
            return listener
        }
        XCTAssertThrowsError(try server.reload(reloaded)) { error in
            XCTAssertTrue("\(error)".contains("gone.pem"), "the error names the file: \(error)")
        }
        let response = try await agent.get("https://127.0.0.1:\(port)/still")
        XCTAssertEqual(response.status.code, 200)
        let body = try await response.string()
        XCTAssertTrue(body.hasPrefix("a GET /still"), "the old routes and certificate serve: \(body)")
    }
}
