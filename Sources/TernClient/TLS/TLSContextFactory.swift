import NIOSSL

/// Turns `TLSSettings` into an `NIOSSLContext`: TLS 1.2 and 1.3, ALPN `http/1.1`.
enum TLSContextFactory {
    static func makeContext(_ settings: TLSSettings) throws(TernClientError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        switch settings.verification {
        case .full: configuration.certificateVerification = .fullVerification
        case .noHostnameVerification: configuration.certificateVerification = .noHostnameVerification
        case .none: configuration.certificateVerification = .none
        }
        do {
            switch settings.trustRoots {
            case .system:
                configuration.trustRoots = .default
            case .pemFile(let path):
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            case .systemAnd(let path):
                configuration.trustRoots = .default
                configuration.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(path))]
            }
            if let chain = settings.certificateChainPEMFile {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) }
            }
            if let key = settings.privateKeyPEMFile {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TernClientError(code: .tlsFailed, phase: .tls, detail: "cannot load TLS settings: \(error)")
        }
    }
}
