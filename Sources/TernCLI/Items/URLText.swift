/// Pure URL-string helpers: httpie's scheme defaulting, query appending, percent-encoding,
/// and the rewrite for `--unix-socket`.
public enum URLText {
    /// `localhost:8080/x` → `http://localhost:8080/x`; `:8080/x` → `http://localhost:8080/x`;
    /// `:/x` → `http://localhost/x`; URLs with a scheme are kept.
    public static func normalize(_ raw: String, defaultScheme: String = "http") -> String {
        if Self.scheme(of: raw) != nil { return raw }
        if raw.hasPrefix(":") {
            let rest = raw.dropFirst()
            let digits = rest.prefix { $0.isNumber }
            let path = rest.dropFirst(digits.count)
            let port = digits.isEmpty ? "" : ":" + digits
            return "\(defaultScheme)://localhost\(port)\(path)"
        }
        return "\(defaultScheme)://\(raw)"
    }

    /// The scheme of `url` when it has one (`scheme://`), lower-cased.
    public static func scheme(of url: String) -> String? {
        guard let range = url.range(of: "://") else { return nil }
        let scheme = url[..<range.lowerBound]
        guard let first = scheme.first, first.isASCII, first.isLetter,
              scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { return nil }
        return scheme.lowercased()
    }

    /// Splits `scheme://authority/path?query#fragment` into (scheme, authority, path-and-query); the fragment is dropped.
    public static func components(_ url: String) -> (scheme: String, authority: String, pathAndQuery: String)? {
        guard let scheme = Self.scheme(of: url), let sep = url.range(of: "://") else { return nil }
        var rest = url[sep.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let end = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = String(rest[..<end])
        var pathAndQuery = String(rest[end...])
        if pathAndQuery.isEmpty || pathAndQuery.hasPrefix("?") { pathAndQuery = "/" + pathAndQuery }
        return (scheme, authority, pathAndQuery)
    }

    /// The host of an authority (`user@host:port`, `[::1]:80`), without userinfo or port.
    public static func host(ofAuthority authority: String) -> String {
        var hostPort = authority
        if let at = hostPort.lastIndex(of: "@") { hostPort = String(hostPort[hostPort.index(after: at)...]) }
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            return String(hostPort[...close])
        }
        if let colon = hostPort.lastIndex(of: ":") { return String(hostPort[..<colon]) }
        return hostPort
    }

    /// The `Host` header for an authority: no userinfo, no default port.
    public static func hostHeader(_ authority: String, scheme: String) -> String {
        var hostPort = authority
        if let at = hostPort.lastIndex(of: "@") { hostPort = String(hostPort[hostPort.index(after: at)...]) }
        let defaultPort = scheme.hasPrefix("https") ? ":443" : ":80"
        if hostPort.hasSuffix(defaultPort) { hostPort.removeLast(defaultPort.count) }
        return hostPort
    }

    /// Appends percent-encoded query items to `url`, before any fragment.
    public static func appendingQuery(_ items: [(String, String)], to url: String) -> String {
        guard !items.isEmpty else { return url }
        var base = url
        var fragment = ""
        if let hash = base.firstIndex(of: "#") {
            fragment = String(base[hash...])
            base = String(base[..<hash])
        }
        let encoded = items.map { Self.percentEncode($0.0) + "=" + Self.percentEncode($0.1) }.joined(separator: "&")
        let separator = base.contains("?") ? (base.hasSuffix("?") || base.hasSuffix("&") ? "" : "&") : "?"
        return base + separator + encoded + fragment
    }

    /// Percent-encodes everything outside RFC 3986's unreserved set.
    public static func percentEncode(_ s: String, keeping extra: String = "") -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        let keep = Array(extra.utf8)
        for b in s.utf8 {
            if Self.isUnreserved(b) || keep.contains(b) {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out += "%" + Self.hex(b >> 4) + Self.hex(b & 0xF)
            }
        }
        return out
    }

    /// application/x-www-form-urlencoded: like `percentEncode`, but spaces become `+`.
    public static func formEncode(_ s: String) -> String {
        Self.percentEncode(s, keeping: " ").replacingOccurrences(of: " ", with: "+")
    }

    /// `--unix-socket /run/app.sock` turns `http://host/path?q` into `http+unix://%2Frun%2Fapp.sock/path?q`.
    public static func unixSocketURL(_ url: String, socketPath: String) -> String {
        guard let (scheme, _, pathAndQuery) = Self.components(url) else { return url }
        let unixScheme = scheme == "https" ? "https+unix" : "http+unix"
        return "\(unixScheme)://\(Self.percentEncode(socketPath))\(pathAndQuery)"
    }

    static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
             UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static func hex(_ nibble: UInt8) -> String {
        String(UnicodeScalar(nibble < 10 ? nibble + 48 : nibble + 55))
    }

    /// Decodes `%XX` escapes (invalid escapes are kept as they are).
    public static func percentDecode(_ s: Substring) -> [UInt8] {
        var out: [UInt8] = []
        let bytes = Array(s.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let hi = Self.hexValue(bytes[i + 1]), let lo = Self.hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - 48
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - 87
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - 55
        default: return nil
        }
    }
}
