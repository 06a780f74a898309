import NIOHTTP1

extension CachePolicy {
    /// RFC 9111 §4.3.1: the fields that make the revalidation request conditional:
    /// `If-None-Match` from `ETag` and `If-Modified-Since` from `Last-Modified`.
    static func validators(for stored: HTTPHeaders) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        if let etag = Self.firstValue(stored, "etag"), !etag.isEmpty {
            fields.append((name: "If-None-Match", value: String(etag)))
        }
        if let lastModified = Self.firstValue(stored, "last-modified"), !lastModified.isEmpty {
            fields.append((name: "If-Modified-Since", value: String(lastModified)))
        }
        return fields
    }

    /// RFC 9111 §3.2 and §4.3.4: the stored fields updated from a 304. Every field the 304 carries
    /// replaces all stored lines of that name, except `Content-Length`, `Content-Encoding`,
    /// `Content-Range`, hop-by-hop fields and fields the 304's `Connection` names.
    static func updatedHeaders(stored: HTTPHeaders, notModified: HTTPHeaders) -> HTTPHeaders {
        var connectionNames: [Substring] = []
        Self.forEachListMember(in: notModified, named: "connection") { connectionNames.append($0) }
        func isUpdatable(_ name: String) -> Bool {
            if HeaderRewriting.isHopByHop(name) { return false }
            if Self.equalsLowercased(name, "content-length") || Self.equalsLowercased(name, "content-encoding")
                || Self.equalsLowercased(name, "content-range")
            {
                return false
            }
            return !connectionNames.contains { Self.equalsIgnoringCase(String($0), name) }
        }
        var replaced: [String] = []
        for (name, _) in notModified where isUpdatable(name) {
            if !replaced.contains(where: { Self.equalsIgnoringCase($0, name) }) { replaced.append(name) }
        }
        guard !replaced.isEmpty else { return stored }
        var result = stored
        for name in replaced { result.remove(name: name) }
        for (name, value) in notModified where isUpdatable(name) { result.add(name: name, value: value) }
        return result
    }

    /// The outcome of a client's preconditions evaluated against a stored response.
    enum Conditional: Equatable, Sendable { case proceed, notModified, preconditionFailed }

    /// RFC 9110 §13.2.2, in its order, against a stored 200: `If-Match` (strong comparison, `*`
    /// matches) then, without it, `If-Unmodified-Since` → 412 when failing; `If-None-Match` (weak
    /// comparison, `*` matches) → 304 for GET/HEAD, 412 otherwise; without `If-None-Match`, for
    /// GET/HEAD, `If-Modified-Since` → 304 when the stored `Last-Modified` (or, lacking it, `Date`,
    /// RFC 9111 §4.3.2) is not later. Invalid dates are ignored.
    static func evaluateConditional(method: HTTPMethod, request: some FieldLines, stored: HTTPHeaders) -> Conditional {
        let etag = Self.firstValue(stored, "etag").flatMap(EntityTag.init)
        if Self.has(request, "if-match") {
            var matched = false
            Self.forEachListMember(in: request, named: "if-match") { member in
                if member == "*" { matched = true } else if let tag = EntityTag(member), let etag, tag.strongMatches(etag) { matched = true }
            }
            if !matched { return .preconditionFailed }
        } else if let since = Self.firstValue(request, "if-unmodified-since").flatMap(Self.parseHTTPDate),
            let lastModified = Self.firstValue(stored, "last-modified").flatMap(Self.parseHTTPDate),
            lastModified > since
        {
            return .preconditionFailed
        }
        let isRead = method.isGET || method.isHEAD
        if Self.has(request, "if-none-match") {
            var matched = false
            Self.forEachListMember(in: request, named: "if-none-match") { member in
                if member == "*" { matched = true } else if let tag = EntityTag(member), let etag, tag.weakMatches(etag) { matched = true }
            }
            if matched { return isRead ? .notModified : .preconditionFailed }
        } else if isRead, Self.count(request, "if-modified-since") == 1,
            let since = Self.firstValue(request, "if-modified-since").flatMap(Self.parseHTTPDate),
            let modified = (Self.firstValue(stored, "last-modified") ?? Self.firstValue(stored, "date")).flatMap(Self.parseHTTPDate),
            modified <= since
        {
            return .notModified
        }
        return .proceed
    }

    /// An entity tag (RFC 9110 §8.8.3): `"opaque"` or `W/"opaque"`. Unquoted tags, which some
    /// servers send, are taken whole as the opaque part.
    struct EntityTag {
        var isWeak: Bool
        var opaque: Substring

        init?(_ text: Substring) {
            var text = CachePolicy.trimmed(text)
            self.isWeak = text.hasPrefix("W/")
            if self.isWeak { text = text.dropFirst(2) }
            guard !text.isEmpty else { return nil }
            self.opaque = CachePolicy.unquoted(text)
        }

        func strongMatches(_ other: EntityTag) -> Bool { !self.isWeak && !other.isWeak && self.opaque == other.opaque }
        func weakMatches(_ other: EntityTag) -> Bool { self.opaque == other.opaque }
    }
}
