import Foundation

/// A certificate authority and leaf certificates made at test time with the `openssl` command.
public struct TestPKI: Sendable {
    public let directory: String
    public let caCertificate: String

    public init() throws {
        let directory = NSTemporaryDirectory() + "tern-pki-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.caCertificate = directory + "/ca.pem"
        try Self.openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=Tern Test CA", "-keyout", directory + "/ca.key", "-out", self.caCertificate,
        ])
    }

    /// A leaf for `names` (DNS subjectAltNames), signed by the CA: (certificate path, key path).
    public func issue(_ file: String, names: [String]) throws -> (certificate: String, key: String) {
        let key = "\(self.directory)/\(file).key"
        let csr = "\(self.directory)/\(file).csr"
        let certificate = "\(self.directory)/\(file).pem"
        let extensions = "\(self.directory)/\(file).ext"
        try "subjectAltName=\(names.map { "DNS:\($0)" }.joined(separator: ","))\n".write(toFile: extensions, atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(names[0])", "-keyout", key, "-out", csr])
        try Self.openssl([
            "x509", "-req", "-in", csr, "-CA", self.caCertificate, "-CAkey", "\(self.directory)/ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", extensions, "-out", certificate,
        ])
        return (certificate, key)
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "TestPKI", code: Int(process.terminationStatus), userInfo: [NSLocalizedDescriptionKey: "openssl \(arguments.first ?? "") failed; is openssl installed?"])
        }
    }
}

/// Resident memory of this process, in bytes (VmRSS).
public func residentMemory() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
}
