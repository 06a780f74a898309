/// How the agent speaks TLS to an origin. Hashable: pools are keyed by origin *and* TLS settings,
/// so a connection verified one way is never reused for a request that asked for another.
public struct TLSSettings: Sendable, Hashable {
    public enum TrustRoots: Sendable, Hashable {
        /// The operating system's trust store.
        case system
        /// Only the certificates in this PEM file.
        case pemFile(String)
        /// The system's roots and the certificates in this PEM file.
        case systemAnd(pemFile: String)
    }

    public enum Verification: Sendable, Hashable {
        /// Chain and host name verified (the default).
        case full
        /// Chain verified, host name not.
        case noHostnameVerification
        /// Nothing verified: an explicit, insecure opt-in (`-k`).
        case none
    }

    public var trustRoots: TrustRoots = .system
    /// A client certificate chain (PEM) presented when the server asks for one.
    public var certificateChainPEMFile: String?
    /// The private key (PEM) of the client certificate.
    public var privateKeyPEMFile: String?
    public var verification: Verification = .full
    /// The name sent in SNI and verified; defaults to the URL's host.
    public var serverName: String?

    public init() {}

    public static var insecure: TLSSettings {
        var settings = TLSSettings()
        settings.verification = .none
        return settings
    }
}
