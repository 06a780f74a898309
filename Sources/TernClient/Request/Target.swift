import Foundation

/// A request URL taken apart into what the agent needs: where to connect (the `Origin`) and what
/// to put on the request line and in `Host`. A small parser of our own (RFC 3986 §3): it keeps the
/// path and query exactly as given, and takes `http+unix://` URLs with a percent-encoded socket path.
public struct Target: Hashable, Sendable {
    public var origin: Origin
    /// Path and query, as sent on the request line: never empty.
    public var requestURI: String
    /// `user:password` from the URL's authority, percent-decoded.
    public var userInfo: String?

    public init(origin: Origin, requestURI: String, userInfo: String? = nil) {
        self.origin = origin
        self.requestURI = requestURI
        self.userInfo = userInfo
    }

    public init(parsing url: String) throws(TernClientError) {
        guard let colon = url.utf8.firstIndex(of: UInt8(ascii: ":")),
            url.utf8[colon...].starts(with: "://".utf8)
        else {
            throw TernClientError(code: .invalidURL, phase: .request, detail: "no scheme in \(url)")
        }
        let schemeEnd = colon..<url.utf8.index(colon, offsetBy: 3)
        let schemeText = url[..<schemeEnd.lowerBound].lowercased()
        guard let scheme = Origin.Scheme(rawValue: schemeText) else {
            throw TernClientError(code: .unsupportedScheme, phase: .request, detail: "'\(schemeText)' in \(url)")
        }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        var pathAndQuery = rest[authorityEnd...]
        if let hash = pathAndQuery.firstIndex(of: "#") { pathAndQuery = pathAndQuery[..<hash] }

        var userInfo: String?
        if let at = authority.lastIndex(of: "@") {
            userInfo = String(authority[..<at]).removingPercentEncoding
            authority = authority[authority.index(after: at)...]
        }

        let host: String
        var port: Int?
        if scheme.isUnix {
            guard let path = String(authority).removingPercentEncoding, !path.isEmpty else {
                throw TernClientError(code: .invalidURL, phase: .request, detail: "no socket path in \(url)")
            }
            host = path
        } else if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else {
                throw TernClientError(code: .invalidURL, phase: .request, detail: "unclosed '[' in \(url)")
            }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else {
                    throw TernClientError(code: .invalidURL, phase: .request, detail: "junk after ']' in \(url)")
                }
                port = try Self.parsePort(after.dropFirst(), url: url)
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = try Self.parsePort(authority[authority.index(after: colon)...], url: url)
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else {
            throw TernClientError(code: .invalidURL, phase: .request, detail: "no host in \(url)")
        }
        if let bad = host.unicodeScalars.first(where: { $0.value <= 0x20 || $0.value == 0x7F }), !scheme.isUnix {
            let what = bad == " " ? "a space" : "control character 0x\(String(bad.value, radix: 16))"
            throw TernClientError(code: .invalidURL, phase: .request, detail: "\(what) in the host")
        }
        var uri = pathAndQuery.isEmpty ? "/" : String(pathAndQuery)
        if uri.first == "?" { uri = "/" + uri }
        if uri.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            throw TernClientError(code: .invalidURL, phase: .request, detail: "a space or control character in the path (percent-encode it)")
        }
        // Host names are case-insensitive (RFC 3986 §3.2.2); a socket path is not.
        self.origin = Origin(scheme: scheme, host: scheme.isUnix ? host : host.lowercased(), port: port ?? scheme.defaultPort)
        self.requestURI = uri
        self.userInfo = userInfo
    }

    private static func parsePort(_ text: Substring, url: String) throws(TernClientError) -> Int? {
        if text.isEmpty { return nil }
        guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let port = Int(text),
            (1...65535).contains(port)
        else {
            throw TernClientError(code: .invalidURL, phase: .request, detail: "bad port '\(text)' in \(url)")
        }
        return port
    }

    /// The URL, written back out (without user info).
    public var url: String { self.origin.urlPrefix + self.requestURI }

    /// Resolves a `Location` (or any reference) against this target, per RFC 3986 §5.2.
    public func resolving(_ reference: String) throws(TernClientError) -> Target {
        if reference.contains("://") { return try Target(parsing: reference) }
        if reference.hasPrefix("//") { return try Target(parsing: self.origin.scheme.rawValue + ":" + reference) }
        var copy = self
        copy.userInfo = nil
        if reference.hasPrefix("/") {
            copy.requestURI = Self.removingDotSegments(reference)
        } else if reference.hasPrefix("?") {
            copy.requestURI = self.path + reference
        } else if reference.isEmpty || reference.hasPrefix("#") {
            return copy
        } else {
            let base = self.path
            let directory = base[...(base.lastIndex(of: "/") ?? base.startIndex)]
            copy.requestURI = Self.removingDotSegments(directory + reference)
        }
        if let hash = copy.requestURI.firstIndex(of: "#") { copy.requestURI = String(copy.requestURI[..<hash]) }
        return copy
    }

    private var path: String {
        if let q = self.requestURI.firstIndex(of: "?") { return String(self.requestURI[..<q]) }
        return self.requestURI
    }

    static func removingDotSegments(_ uri: String) -> String {
        let queryStart = uri.firstIndex(where: { $0 == "?" || $0 == "#" }) ?? uri.endIndex
        let path = uri[..<queryStart]
        guard path.contains(".") else { return uri }
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            if segment == "." {
                if isLast { output.append("") }
            } else if segment == ".." {
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            } else {
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/") + uri[queryStart...]
    }
}

/// Where the agent connects: scheme, host and port (or Unix socket path). Pools are kept per origin.
public struct Origin: Hashable, Sendable, CustomStringConvertible {
    public enum Scheme: String, Hashable, Sendable {
        case http, https
        case httpUnix = "http+unix"
        case httpsUnix = "https+unix"

        public var usesTLS: Bool { self == .https || self == .httpsUnix }
        public var isUnix: Bool { self == .httpUnix || self == .httpsUnix }
        public var defaultPort: Int { self.usesTLS ? 443 : 80 }
    }

    public let scheme: Scheme
    /// A host name, an IP address (IPv6 without brackets), or the socket path for Unix schemes.
    public let host: String
    public let port: Int
    /// `host:port`, or the socket path: how errors name the peer.
    public let address: String
    /// The `Host` header value (RFC 9110 §7.2): the port only when it is not the scheme's default.
    /// Both are formatted once here, not on every request.
    public let hostHeader: String

    public init(scheme: Scheme, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
        let bracketed = host.contains(":") ? "[\(host)]" : host
        if scheme.isUnix {
            self.address = host
            self.hostHeader = "localhost"
        } else {
            self.address = "\(bracketed):\(port)"
            self.hostHeader = port == scheme.defaultPort ? bracketed : "\(bracketed):\(port)"
        }
    }

    public static func == (a: Origin, b: Origin) -> Bool {
        a.scheme == b.scheme && a.port == b.port && a.host == b.host
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.scheme)
        hasher.combine(self.host)
        hasher.combine(self.port)
    }

    var urlPrefix: String {
        if self.scheme.isUnix {
            let encoded = self.host.addingPercentEncoding(withAllowedCharacters: .urlHostAllowed.subtracting(["/", ":"])) ?? self.host
            return "\(self.scheme.rawValue)://\(encoded)"
        }
        return "\(self.scheme.rawValue)://\(self.hostHeader)"
    }

    public var description: String { self.urlPrefix }
}
