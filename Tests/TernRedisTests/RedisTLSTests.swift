import Foundation
import NIOCore
import XCTest
import TernTestSupport

@testable import TernRedis

/// `rediss://` against a redis-server with TLS, its CA and certificate made with openssl.
final class RedisTLSTests: XCTestCase {
    private func makeCertificates(in directory: URL) throws -> (ca: String, cert: String, key: String) {
        let openssl = try RedisServerProcess.executable("openssl")
        let path = { (name: String) in directory.appendingPathComponent(name).path }
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Tern Test CA",
             "-keyout", path("ca.key"), "-out", path("ca.pem")],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", path("server.key"), "-out", path("server.csr")],
            ["x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
             "-days", "2", "-out", path("server.pem"), "-extfile", path("san.cnf")],
        ]
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: path("san.cnf"), atomically: true, encoding: .utf8)
        for step in steps {
            let output = try RedisServerProcess.run(openssl, step)
            guard FileManager.default.fileExists(atPath: step.contains("-out") ? step[step.firstIndex(of: "-out")! + 1] : "") else {
                throw XCTSkipFailure("openssl failed: \(output)")
            }
        }
        return (path("ca.pem"), path("server.pem"), path("server.key"))
    }

    func testRedissWithAPrivateCA() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tern-redis-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let files = try makeCertificates(in: directory)
        let tlsPort = try RedisServerProcess.freePort()
        let server = try startRedis([
            "--tls-port", "\(tlsPort)", "--tls-cert-file", files.cert, "--tls-key-file", files.key,
            "--tls-ca-cert-file", files.ca, "--tls-auth-clients", "no",
        ])
        _ = server

        var configuration = try RedisConfiguration(url: "rediss://localhost:\(tlsPort)/2")
        configuration.trustCertificates(inPEMFile: files.ca)
        let client = try makeClient(configuration)
        try await client.set("secure", "yes")
        let value = try await client.get("secure")
        XCTAssertEqual(value?.text, "yes")
        let info = try await client.send("CLIENT", ["INFO"]).string ?? ""
        XCTAssertTrue(info.contains("db=2"), info)

        // Without the CA, the certificate is refused, and the error says TLS.
        let untrusting = try makeClient("rediss://localhost:\(tlsPort)")
        let error = await assertRedisError(.tls) { try await untrusting.get("secure") }
        XCTAssertEqual(error?.address, "localhost:\(tlsPort)")
    }
}
