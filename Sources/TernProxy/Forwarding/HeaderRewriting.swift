import NIOHTTP1
import TernClient

/// The header rules of a forwarding proxy, applied in place.
enum HeaderRewriting {
    /// Hop-by-hop fields (RFC 9110 §7.6.1), plus `Proxy-Connection` and `Keep-Alive`: the list
    /// the parser marks them by too (`HTTP1HeadFacts.hopByHop`).
    static let hopByHop = HTTP1Fields.hopByHop

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
            for name in Self.namedByConnection(headers) { headers.remove(name: name) }
        }
        for index in 0..<Self.hopByHop.count where present & (1 << index) != 0 {
            headers.remove(name: Self.hopByHop[index])
        }
    }

    static func isHopByHop(_ name: String) -> Bool { Self.hopByHopIndex(name) != nil }

    /// The position of `name` in `hopByHop`, or nil.
    static func hopByHopIndex(_ name: String) -> Int? {
        ASCII.withBytes(name) { HTTP1Fields.hopByHopIndex($0) }
    }

    /// Whether a `Connection` value's tokens are all `close` or `keep-alive` (or empty).
    static func namesOnlyStandardTokens(_ value: String) -> Bool {
        var close = false
        var keepAlive = false
        return !ASCII.withBytes(value) { HTTP1Fields.readConnection($0, close: &close, keepAlive: &keepAlive) }
    }

    private static func isStandardConnectionToken(_ token: Substring) -> Bool {
        ASCII.equals(token, "close") || ASCII.equals(token, "keep-alive")
    }

    /// The fields a message's `Connection` names besides `close` and `keep-alive`, lowercased:
    /// hop-by-hop too (RFC 9110 §7.6.1). Read only when a `Connection` value names others (rare).
    private static func namedByConnection(_ headers: HTTPHeaders) -> [String] {
        headers[canonicalForm: "connection"].filter { !Self.isStandardConnectionToken($0) }.map { $0.lowercased() }
    }

    /// What this proxy knows of a request's client, for `X-Forwarded-For`, `-Proto` and `-Host`.
    struct Forwarded {
        var client: String
        var proto: String
        /// The client's `Host`; nil: no `X-Forwarded-Host`.
        var host: String?
    }

    /// The fields of the request to forward, made from the client's in one pass and one array:
    /// hop-by-hop fields and those `Connection` names left out (as `removeHopByHop`); with
    /// `forwarded`, client-sent `X-Forwarded-*` replaced by ours (never trusted, never appended to:
    /// a client could otherwise forge its address); with `via`, our hop appended to `Via` (RFC 9110
    /// §7.6.3; several client `Via` fields are one list, joined). Ours go last, in that order.
    /// One pass and one array, where a copy and then an edit per rule scanned the fields again for
    /// each.
    static func upstreamFields(_ headers: HTTPHeaders, forwarded: Forwarded?, via hop: String?) -> HTTPHeaders {
        var fields: [(String, String)] = []
        fields.reserveCapacity(headers.count + 4)
        var via: String?
        var namesOthers = false
        for (name, value) in headers {
            if let index = Self.hopByHopIndex(name) {
                if index == 0, !namesOthers { namesOthers = !Self.namesOnlyStandardTokens(value) }
                continue
            }
            if forwarded != nil, Self.isXForwarded(name) { continue }
            if hop != nil, name.utf8.count == 3, ASCII.equals(name, "via") {
                via = via.map { $0 + ", " + value } ?? value
                continue
            }
            fields.append((name, value))
        }
        if namesOthers {
            // Rare: `Connection` names end-to-end-looking fields; they go too (RFC 9110 §7.6.1).
            let named = Self.namedByConnection(headers)
            fields.removeAll { field in named.contains { ASCII.equals(field.0, $0) } }
            if named.contains("via") { via = nil }  // the client's hops, which it said go no further
        }
        if let forwarded {
            fields.append(("X-Forwarded-For", forwarded.client))
            fields.append(("X-Forwarded-Proto", forwarded.proto))
            if let host = forwarded.host { fields.append(("X-Forwarded-Host", host)) }
        }
        if let hop { fields.append(("Via", via.map { $0 + ", " + hop } ?? hop)) }
        return HTTPHeaders(fields)
    }

    private static func isXForwarded(_ name: String) -> Bool {
        switch name.utf8.count {
        case 15: return ASCII.equals(name, "x-forwarded-for")
        case 16: return ASCII.equals(name, "x-forwarded-host")
        case 17: return ASCII.equals(name, "x-forwarded-proto")
        default: return false
        }
    }

    /// Our `Via` entry for a message of `version`.
    static func via(_ version: HTTPVersion) -> String {
        version.minor == 0 && version.major == 1 ? "1.0 tern" : "1.1 tern"
    }

    /// RFC 9110 §7.6.3: each proxy appends itself to `Via`. Several `Via` fields are one list: they
    /// become one field, every hop kept, ours last.
    static func appendVia(_ headers: inout HTTPHeaders, version: HTTPVersion) {
        let hop = Self.via(version)
        let existing = headers["via"]
        if existing.isEmpty {
            headers.add(name: "Via", value: hop)
        } else {
            headers.replaceOrAdd(name: "Via", value: (existing + [hop]).joined(separator: ", "))
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
