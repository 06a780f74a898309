import Foundation

/// A throwaway PKI made with the `openssl` command line at test time: a CA and certificates signed by it.
///
/// Generated once per test process into a fresh temporary directory; `TestCertificates.shared()` returns the same
/// paths (or the same error) on every call.
struct TestCertificates: Sendable {
    var directory: String
    var caCertificate: String
    var caKey: String
    /// SAN DNS:localhost, IP:127.0.0.1, IP:::1
    var localhostCertificate: String
    var localhostKey: String
    /// SAN DNS:wrong.example only: verifying it as localhost or 127.0.0.1 must fail
    var wrongNameCertificate: String
    var wrongNameKey: String
    /// extendedKeyUsage clientAuth, CN tern-test-client
    var clientCertificate: String
    var clientKey: String

    struct GenerationError: Error, CustomStringConvertible {
        var description: String
    }

    private static let generated: Result<TestCertificates, GenerationError> = Result { try generate() }
        .mapError { $0 as? GenerationError ?? GenerationError(description: "\($0)") }

    static func shared() throws -> TestCertificates {
        try generated.get()
    }

    /// Removes the generated files when the test process exits.
    private static func removeAtExit() {
        atexit {
            if case .success(let certificates) = TestCertificates.generated {
                try? FileManager.default.removeItem(atPath: certificates.directory)
            }
        }
    }

    private static func generate() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tern-test-pki-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        removeAtExit()
        func path(_ name: String) -> String { directory + "/" + name }

        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "30", "-subj", "/CN=Tern Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])

        func leaf(_ name: String, subject: String, extensions: String) throws {
            try openssl([
                "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", subject,
            ])
            try extensions.write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
            try openssl([
                "x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                "-set_serial", "\(UInt64.random(in: 1...UInt64.max / 2))",
                "-out", path("\(name).pem"), "-days", "30", "-extfile", path("\(name).ext"),
            ])
        }

        try leaf(
            "localhost", subject: "/CN=localhost",
            extensions: """
                basicConstraints=CA:FALSE
                keyUsage=critical,digitalSignature,keyEncipherment
                extendedKeyUsage=serverAuth
                subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1

                """
        )
        try leaf(
            "wrong", subject: "/CN=wrong.example",
            extensions: """
                basicConstraints=CA:FALSE
                keyUsage=critical,digitalSignature,keyEncipherment
                extendedKeyUsage=serverAuth
                subjectAltName=DNS:wrong.example

                """
        )
        try leaf(
            "client", subject: "/CN=tern-test-client",
            extensions: """
                basicConstraints=CA:FALSE
                keyUsage=critical,digitalSignature
                extendedKeyUsage=clientAuth

                """
        )

        return TestCertificates(
            directory: directory,
            caCertificate: path("ca.pem"), caKey: path("ca.key"),
            localhostCertificate: path("localhost.pem"), localhostKey: path("localhost.key"),
            wrongNameCertificate: path("wrong.pem"), wrongNameKey: path("wrong.key"),
            clientCertificate: path("client.pem"), clientKey: path("client.key")
        )
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw GenerationError(description: "cannot run openssl: \(error)")
        }
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw GenerationError(
                description: "openssl \(arguments.first ?? "") failed (\(process.terminationStatus)): "
                    + (String(data: stderr, encoding: .utf8) ?? "")
            )
        }
    }
}
