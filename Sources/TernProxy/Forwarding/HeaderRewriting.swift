import NIOHTTP1

/// The header rules of a forwarding proxy, applied in place.
enum HeaderRewriting {
    /// Hop-by-hop fields (RFC 9110 §7.6.1), plus `Proxy-Connection` and `Keep-Alive`, which old
    /// clients still send; Go's httputil.ReverseProxy strips the same list.
    static let hopByHop = [
        "connection", "proxy-connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Removes the hop-by-hop fields and every field named in `Connection`. One pass finds out
    /// whether there is anything to remove; most messages have none of them.
    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        guard headers.contains(where: { Self.isHopByHop($0.name) }) else { return }
        for value in headers[canonicalForm: "connection"] where !Self.isStandardConnectionToken(value) {
            headers.remove(name: String(value))
        }
        for name in Self.hopByHop { headers.remove(name: name) }
    }

    static func isHopByHop(_ name: String) -> Bool {
        let name = Substring(name)
        switch name.utf8.count {
        case 2: return name.caseInsensitiveEquals("te")
        case 7: return name.caseInsensitiveEquals("trailer") || name.caseInsensitiveEquals("upgrade")
        case 10: return name.caseInsensitiveEquals("connection") || name.caseInsensitiveEquals("keep-alive")
        case 16: return name.caseInsensitiveEquals("proxy-connection")
        case 17: return name.caseInsensitiveEquals("transfer-encoding")
        case 18: return name.caseInsensitiveEquals("proxy-authenticate")
        case 19: return name.caseInsensitiveEquals("proxy-authorization")
        default: return false
        }
    }

    private static func isStandardConnectionToken(_ token: Substring) -> Bool {
        token.caseInsensitiveEquals("close") || token.caseInsensitiveEquals("keep-alive")
    }

    /// Client-sent `X-Forwarded-*` are replaced by what this proxy knows (never trusted, never
    /// appended to: a client could otherwise forge its address).
    static func setForwarded(_ headers: inout HTTPHeaders, client: String, proto: String, host: String?) {
        headers.replaceOrAdd(name: "X-Forwarded-For", value: client)
        headers.replaceOrAdd(name: "X-Forwarded-Proto", value: proto)
        if let host { headers.replaceOrAdd(name: "X-Forwarded-Host", value: host) } else { headers.remove(name: "x-forwarded-host") }
    }

    /// RFC 9110 §7.6.3: each proxy appends itself to `Via`.
    static func appendVia(_ headers: inout HTTPHeaders, version: HTTPVersion) {
        let hop = version.minor == 0 && version.major == 1 ? "1.0 tern" : "1.1 tern"
        if let existing = headers.first(name: "via") {
            headers.replaceOrAdd(name: "Via", value: existing + ", " + hop)
        } else {
            headers.add(name: "Via", value: hop)
        }
    }

    static func apply(_ rules: [ProxyConfiguration.HeaderRule], to headers: inout HTTPHeaders) {
        for rule in rules {
            switch rule {
            case .set(let name, let value): headers.replaceOrAdd(name: name, value: value)
            case .add(let name, let value): headers.add(name: name, value: value)
            case .remove(let name): headers.remove(name: name)
            }
        }
    }
}

extension Substring {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        self.utf8.count == other.utf8.count
            && zip(self.utf8, other.utf8).allSatisfy { $0 | 0x20 == $1 | 0x20 }
    }
}
