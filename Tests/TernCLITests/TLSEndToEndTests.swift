import Foundation
import Testing

/// TLS through `openssl s_server -www` on 127.0.0.1 (skipped when openssl is not installed).
@Suite(.serialized, .enabled(if: OpenSSLServer.isAvailable)) struct TLSEndToEndTests {
    @Test func trustedWithCacertOrInsecure() throws {
        let server = try OpenSSLServer(names: "IP:127.0.0.1,DNS:localhost")
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)/"

        let untrusted = try TernProcess.run([url])
        #expect(untrusted.status == 9)
        #expect(untrusted.err == "tern: TLS handshake failed (127.0.0.1:\(server.port)): the server's certificate is not trusted (use --cacert FILE, or -k to skip verification)\n")

        let trusted = try TernProcess.run(["--cacert", server.certificate, url])
        #expect(trusted.status == 0)
        #expect(trusted.out.contains("<HTML>"))

        let insecure = try TernProcess.run(["-k", url])
        #expect(insecure.status == 0)
    }

    @Test func wrongHostName() throws {
        let server = try OpenSSLServer(names: "DNS:other.example")
        defer { server.stop() }
        let result = try TernProcess.run(["--cacert", server.certificate, "https://127.0.0.1:\(server.port)/"])
        #expect(result.status == 9)
        #expect(result.err.contains("does not match the host name"))
    }

    @Test func missingCacertFileIsUsage() throws {
        let result = try TernProcess.run(["--cacert", "/nonexistent/ca.pem", "https://127.0.0.1:1/"])
        #expect(result.status == 64)
        #expect(result.err == "tern: cannot read --cacert file '/nonexistent/ca.pem'\n")
    }
}

/// A throwaway `openssl s_server` with a fresh self-signed certificate.
final class OpenSSLServer {
    static let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var isAvailable: Bool { Self.openssl != nil }

    let port: Int
    let certificate: String

    init(names: String) throws {
        let directory = try TernProcess.temporaryDirectory()
        let key = directory.appendingPathComponent("key.pem").path
        self.certificate = directory.appendingPathComponent("cert.pem").path
        let request = Process()
        request.executableURL = URL(fileURLWithPath: Self.openssl!)
        request.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", self.certificate,
                             "-days", "2", "-subj", "/CN=tern-test", "-addext", "subjectAltName=\(names)"]
        request.standardOutput = FileHandle.nullDevice
        request.standardError = FileHandle.nullDevice
        try request.run()
        request.waitUntilExit()

        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = Int.random(in: 20_000..<60_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.openssl!)
            process.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", self.certificate, "-key", key, "-www", "-quiet"]
            process.standardInput = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            if Self.waitForListener(port: port, process: process) {
                self.port = port
                self.processBox = process
                return
            }
            kill(process.processIdentifier, SIGKILL)
            lastError = CocoaError(.fileReadUnknown)
        }
        throw lastError ?? CocoaError(.fileReadUnknown)
    }

    private var processBox: Process?

    func stop() {
        // s_server does not always stop on SIGTERM.
        if let process = self.processBox, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    static func waitForListener(port: Int, process: Process) -> Bool {
        for _ in 0..<100 {
            guard process.isRunning else { return false }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if connected == 0 { return true }
            usleep(50_000)
        }
        return false
    }
}
