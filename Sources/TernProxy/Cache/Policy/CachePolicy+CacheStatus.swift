extension CachePolicy {
    /// One member of an RFC 9211 `Cache-Status` field, built per response and rendered as
    /// `tern; hit; ttl=12` or `tern; fwd=uri-miss; stored`.
    struct CacheStatus: Sendable {
        enum Forward: String, Sendable {
            case bypass, method, uriMiss = "uri-miss", varyMiss = "vary-miss", miss, request, stale
        }
        var hit = false
        var forward: Forward? = nil
        var forwardStatus: UInt? = nil
        var stored = false
        var collapsed = false
        /// Remaining freshness in seconds; negative when stale.
        var ttl: Int64? = nil
        var detail: String? = nil

        /// The parameters in RFC 9211's order (hit, fwd, fwd-status, ttl, stored, collapsed,
        /// detail). The cache name and `detail` are tokens when they can be, otherwise strings
        /// (quotes and backslashes escaped, other non-printable characters dropped).
        func render(cacheName: String) -> String {
            var text = ""
            text.reserveCapacity(48)
            CachePolicy.appendStructuredItem(cacheName, to: &text)
            if self.hit { text += "; hit" }
            if let forward = self.forward { text += "; fwd=" + forward.rawValue }
            if let forwardStatus = self.forwardStatus { text += "; fwd-status=" + String(forwardStatus) }
            if let ttl = self.ttl { text += "; ttl=" + String(ttl) }
            if self.stored { text += "; stored" }
            if self.collapsed { text += "; collapsed" }
            if let detail = self.detail {
                text += "; detail="
                CachePolicy.appendStructuredItem(detail, to: &text)
            }
            return text
        }
    }

    /// RFC 8941 sf-token when `value` is one, else sf-string.
    static func appendStructuredItem(_ value: String, to text: inout String) {
        if Self.isStructuredToken(value) {
            text += value
            return
        }
        text += "\""
        for byte in value.utf8 where byte >= 0x20 && byte < 0x7F {
            if byte == Self.quote || byte == Self.backslash { text += "\\" }
            text.unicodeScalars.append(Unicode.Scalar(byte))
        }
        text += "\""
    }

    /// sf-token: ALPHA or "*" first, then tchar, ":" or "/".
    private static func isStructuredToken(_ value: String) -> Bool {
        guard let first = value.utf8.first, Self.lower(first) &- 0x61 < 26 || first == 0x2A else { return false }
        for byte in value.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: continue
            case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
                UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"),
                UInt8(ascii: ":"), UInt8(ascii: "/"):
                continue
            default:
                return false
            }
        }
        return true
    }
}
