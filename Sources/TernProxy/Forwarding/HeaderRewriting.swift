import NIOHTTP1
import TernClient

/// The header rules of a forwarding proxy, applied in place.
enum HeaderRewriting {
    /// Hop-by-hop fields (RFC 9110 §7.6.1), plus `Proxy-Connection` and `Keep-Alive`, which old
    /// clients still send; Go's httputil.ReverseProxy strips the same list.
    static let hopByHop = [
        "connection", "proxy-connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Removes the hop-by-hop fields and every field named in `Connection`. One pass notes which
    /// of them are there (most messages have none; most of the rest have only `Connection:
    /// keep-alive`); only those are then removed, and a `Connection` value that names nothing but
    /// `close` and `keep-alive` is read in place, without splitting it into an array.
    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        var present: UInt16 = 0
        var namesOthers = false
        for (name, value) in headers {
            guard let index = Self.hopByHopIndex(name) else { continue }
            present |= 1 << index
            if index == 0, !namesOthers { namesOthers = !Self.namesOnlyStandardTokens(value) }
        }
        guard present != 0 else { return }
        if namesOthers {
            for value in headers[canonicalForm: "connection"] where !Self.isStandardConnectionToken(value) {
                headers.remove(name: String(value))
            }
        }
        for index in 0..<Self.hopByHop.count where present & (1 << index) != 0 {
            headers.remove(name: Self.hopByHop[index])
        }
    }

    static func isHopByHop(_ name: String) -> Bool { Self.hopByHopIndex(name) != nil }

    /// The position of `name` in `hopByHop`, or nil.
    static func hopByHopIndex(_ name: String) -> Int? {
        ASCII.withBytes(name) { name in
            switch name.count {
            case 2: return ASCII.equals(name, "te") ? 3 : nil
            case 7: return ASCII.equals(name, "trailer") ? 4 : ASCII.equals(name, "upgrade") ? 6 : nil
            case 10: return ASCII.equals(name, "connection") ? 0 : ASCII.equals(name, "keep-alive") ? 2 : nil
            case 16: return ASCII.equals(name, "proxy-connection") ? 1 : nil
            case 17: return ASCII.equals(name, "transfer-encoding") ? 5 : nil
            case 18: return ASCII.equals(name, "proxy-authenticate") ? 7 : nil
            case 19: return ASCII.equals(name, "proxy-authorization") ? 8 : nil
            default: return nil
            }
        }
    }

    /// Whether a `Connection` value's tokens are all `close` or `keep-alive` (or empty).
    static func namesOnlyStandardTokens(_ value: String) -> Bool {
        var standard = true
        HTTP1Fields.forEachToken(value) { token in
            if !ASCII.equals(token, "close") && !ASCII.equals(token, "keep-alive") { standard = false }
        }
        return standard
    }

    private static func isStandardConnectionToken(_ token: Substring) -> Bool {
        ASCII.equals(token, "close") || ASCII.equals(token, "keep-alive")
    }

    /// Client-sent `X-Forwarded-*` are replaced by what this proxy knows (never trusted, never
    /// appended to: a client could otherwise forge its address).
    /// One pass finds which the client sent (most send none): only those are searched again.
    static func setForwarded(_ headers: inout HTTPHeaders, client: String, proto: String, host: String?) {
        var sent: UInt8 = 0  // 1: -For, 2: -Proto, 4: -Host
        for (name, _) in headers {
            switch name.utf8.count {
            case 15: if ASCII.equals(name, "x-forwarded-for") { sent |= 1 }
            case 16: if ASCII.equals(name, "x-forwarded-host") { sent |= 4 }
            case 17: if ASCII.equals(name, "x-forwarded-proto") { sent |= 2 }
            default: break
            }
        }
        func set(_ name: String, _ value: String?, bit: UInt8) {
            let present = sent & bit != 0
            if let value {
                if present { headers.replaceOrAdd(name: name, value: value) } else { headers.add(name: name, value: value) }
            } else if present {
                headers.remove(name: name)
            }
        }
        set("X-Forwarded-For", client, bit: 1)
        set("X-Forwarded-Proto", proto, bit: 2)
        set("X-Forwarded-Host", host, bit: 4)
    }

    /// What passing a response head on unchanged but for the hop-by-hop fields needs to know;
    /// nil when it needs more than leaving fields out (a `Connection` naming other fields, or a
    /// `Via` to extend): then the head is rewritten as a copy.
    struct PassThrough {
        var hasContentLength = false
    }

    static func passThrough(_ headers: HTTPHeaders) -> PassThrough? {
        var result = PassThrough()
        for (name, value) in headers {
            switch name.utf8.count {
            case 3 where ASCII.equals(name, "via"): return nil
            case 10 where ASCII.equals(name, "connection"): if !Self.namesOnlyStandardTokens(value) { return nil }
            case 14 where ASCII.equals(name, "content-length"): result.hasContentLength = true
            default: break
            }
        }
        return result
    }

    /// Our `Via` entry for a message of `version`.
    static func via(_ version: HTTPVersion) -> String {
        version.minor == 0 && version.major == 1 ? "1.0 tern" : "1.1 tern"
    }

    /// RFC 9110 §7.6.3: each proxy appends itself to `Via`.
    static func appendVia(_ headers: inout HTTPHeaders, version: HTTPVersion) {
        let hop = Self.via(version)
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
