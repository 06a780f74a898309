import NIOSSL
import Synchronization

/// The TLS contexts of one `ssl:` listener, keyed by the DNS names in each certificate, so SNI
/// picks the right one; the first certificate answers clients that send no (or an unknown) name.
/// Replaced whole on reload: connections already open keep the context they started with.
final class CertificateStore: Sendable {
    private struct Table {
        var exact: [String: NIOSSLContext]
        var wildcard: [String: NIOSSLContext]
        var fallback: NIOSSLContext
    }

    private let table: Mutex<Table>

    init(_ certificates: [ProxyConfiguration.Certificate]) throws {
        self.table = Mutex(try Self.load(certificates))
    }

    func reload(_ certificates: [ProxyConfiguration.Certificate]) throws {
        let table = try Self.load(certificates)
        self.table.withLock { $0 = table }
    }

    func context(for serverName: String?) -> NIOSSLContext {
        self.table.withLock { table in
            guard let name = serverName?.lowercased() else { return table.fallback }
            if let context = table.exact[name] { return context }
            if let dot = name.firstIndex(of: "."), let context = table.wildcard[String(name[dot...])] { return context }
            return table.fallback
        }
    }

    private static func load(_ certificates: [ProxyConfiguration.Certificate]) throws -> Table {
        var exact: [String: NIOSSLContext] = [:]
        var wildcard: [String: NIOSSLContext] = [:]
        var fallback: NIOSSLContext?
        for certificate in certificates {
            let chain: [NIOSSLCertificate]
            let key: NIOSSLPrivateKey
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certificate.certificateChainPath)
                key = try NIOSSLPrivateKey(file: certificate.privateKeyPath, format: .pem)
            } catch {
                throw CertificateError(location: certificate.location, message: "cannot load certificate \(certificate.certificateChainPath) or key \(certificate.privateKeyPath): \(error)")
            }
            guard let leaf = chain.first else {
                throw CertificateError(location: certificate.location, message: "no certificate in \(certificate.certificateChainPath)")
            }
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) },
                privateKey: .privateKey(key)
            )
            configuration.minimumTLSVersion = .tlsv12
            configuration.applicationProtocols = ["http/1.1"]
            let context: NIOSSLContext
            do {
                context = try NIOSSLContext(configuration: configuration)
            } catch {
                throw CertificateError(location: certificate.location, message: "certificate \(certificate.certificateChainPath) does not match its key: \(error)")
            }
            if fallback == nil { fallback = context }
            // The DNS names the certificate covers (its subjectAltName; NIOSSL exposes it underscored).
            for name in leaf._subjectAlternativeNames() where name.nameType == .dnsName {
                let text = String(decoding: name.contents, as: UTF8.self).lowercased()
                if text.hasPrefix("*.") {
                    wildcard[String(text.dropFirst())] = wildcard[String(text.dropFirst())] ?? context
                } else {
                    exact[text] = exact[text] ?? context
                }
            }
        }
        guard let fallback else { throw CertificateError(location: nil, message: "an ssl listener needs a certificate") }
        return Table(exact: exact, wildcard: wildcard, fallback: fallback)
    }
}

struct CertificateError: Error, CustomStringConvertible {
    var location: SourceLocation?
    var message: String
    var description: String { self.location.map { "\($0): \(self.message)" } ?? self.message }
}
