import NIOHTTP1

extension CachePolicy {
    /// The request's cache directives (RFC 9111 §5.2.1, RFC 5861 §4).
    struct RequestDirectives: Equatable, Sendable {
        var noStore = false, noCache = false, onlyIfCached = false
        var maxAge: Int64? = nil
        /// `Int64.max` for a bare `max-stale` (any staleness).
        var maxStale: Int64? = nil
        var minFresh: Int64? = nil
        /// RFC 5861 §4: the client accepts a response this many seconds stale when the origin fails.
        var staleIfError: Int64? = nil
    }

    /// The response's cache directives (RFC 9111 §5.2.2, RFC 8246, RFC 5861).
    struct ResponseDirectives: Equatable, Sendable {
        var noStore = false, noCache = false, isPrivate = false, isPublic = false
        var mustRevalidate = false, proxyRevalidate = false, immutable = false
        var maxAge: Int64? = nil, sMaxAge: Int64? = nil
        var staleWhileRevalidate: Int64? = nil, staleIfError: Int64? = nil
        /// §5.2.2.3: store only when the status code is understood; then `no-store` is ignored.
        var mustUnderstand = false
    }
}

extension CachePolicy.RequestDirectives {
    /// Reads every `Cache-Control` line. Unknown directives are ignored. Repeated directives keep
    /// the most restrictive value (the smallest `max-age` and `max-stale`, the largest `min-fresh`);
    /// an invalid `max-age` counts as 0, an invalid `max-stale`, `min-fresh` or `stale-if-error`
    /// is ignored. Without any `Cache-Control`, `Pragma: no-cache` means `no-cache` (§5.4).
    init(_ headers: some FieldLines) {
        self.init()
        let hasCacheControl = CachePolicy.forEachListMember(in: headers, named: "cache-control") { member in
            let (name, value) = CachePolicy.splitDirective(member)
            switch name.utf8.count {
            case 7:
                if CachePolicy.equalsLowercased(name, "max-age") {
                    let seconds = value.flatMap(CachePolicy.parseDeltaSeconds) ?? 0
                    self.maxAge = min(self.maxAge ?? seconds, seconds)
                }
            case 8:
                if CachePolicy.equalsLowercased(name, "no-store") {
                    self.noStore = true
                } else if CachePolicy.equalsLowercased(name, "no-cache") {
                    self.noCache = true
                }
            case 9:
                if CachePolicy.equalsLowercased(name, "max-stale") {
                    // A bare max-stale accepts any staleness; an invalid value is ignored.
                    let seconds: Int64? = value == nil ? Int64.max : value.flatMap(CachePolicy.parseDeltaSeconds)
                    if let seconds { self.maxStale = min(self.maxStale ?? seconds, seconds) }
                } else if CachePolicy.equalsLowercased(name, "min-fresh") {
                    if let seconds = value.flatMap(CachePolicy.parseDeltaSeconds) {
                        self.minFresh = max(self.minFresh ?? seconds, seconds)
                    }
                }
            case 14:
                if CachePolicy.equalsLowercased(name, "only-if-cached") {
                    self.onlyIfCached = true
                } else if CachePolicy.equalsLowercased(name, "stale-if-error") {
                    if let seconds = value.flatMap(CachePolicy.parseDeltaSeconds) {
                        self.staleIfError = min(self.staleIfError ?? seconds, seconds)
                    }
                }
            default:
                break
            }
        }
        if !hasCacheControl {
            CachePolicy.forEachListMember(in: headers, named: "pragma") { member in
                if CachePolicy.equalsLowercased(member, "no-cache") { self.noCache = true }
            }
        }
    }
}

extension CachePolicy.ResponseDirectives {
    /// Reads every `Cache-Control` line. Unknown directives are ignored. Following §4.2.1, a
    /// repeated directive keeps its most restrictive (smallest) value and an invalid `max-age` or
    /// `s-maxage` (not a number, or no value) counts as 0, making the response stale; an invalid
    /// `stale-while-revalidate` or `stale-if-error` is ignored. `no-cache="field"` and
    /// `private="field"` are treated as their unqualified forms (§5.2.2.4, §5.2.2.7 allow it).
    init(_ headers: HTTPHeaders) {
        self.init()
        CachePolicy.forEachListMember(in: headers, named: "cache-control") { member in
            let (name, value) = CachePolicy.splitDirective(member)
            switch name.utf8.count {
            case 6:
                if CachePolicy.equalsLowercased(name, "public") { self.isPublic = true }
            case 7:
                if CachePolicy.equalsLowercased(name, "max-age") {
                    let seconds = value.flatMap(CachePolicy.parseDeltaSeconds) ?? 0
                    self.maxAge = min(self.maxAge ?? seconds, seconds)
                } else if CachePolicy.equalsLowercased(name, "private") {
                    self.isPrivate = true
                }
            case 8:
                if CachePolicy.equalsLowercased(name, "no-store") {
                    self.noStore = true
                } else if CachePolicy.equalsLowercased(name, "no-cache") {
                    self.noCache = true
                } else if CachePolicy.equalsLowercased(name, "s-maxage") {
                    let seconds = value.flatMap(CachePolicy.parseDeltaSeconds) ?? 0
                    self.sMaxAge = min(self.sMaxAge ?? seconds, seconds)
                }
            case 9:
                if CachePolicy.equalsLowercased(name, "immutable") { self.immutable = true }
            case 14:
                if CachePolicy.equalsLowercased(name, "stale-if-error") {
                    if let seconds = value.flatMap(CachePolicy.parseDeltaSeconds) {
                        self.staleIfError = min(self.staleIfError ?? seconds, seconds)
                    }
                }
            case 15:
                if CachePolicy.equalsLowercased(name, "must-revalidate") {
                    self.mustRevalidate = true
                } else if CachePolicy.equalsLowercased(name, "must-understand") {
                    self.mustUnderstand = true
                }
            case 16:
                if CachePolicy.equalsLowercased(name, "proxy-revalidate") { self.proxyRevalidate = true }
            case 22:
                if CachePolicy.equalsLowercased(name, "stale-while-revalidate") {
                    if let seconds = value.flatMap(CachePolicy.parseDeltaSeconds) {
                        self.staleWhileRevalidate = min(self.staleWhileRevalidate ?? seconds, seconds)
                    }
                }
            default:
                break
            }
        }
    }

    /// §4.2.4, §5.2.2.2, §5.2.2.8, §5.2.2.9: a stale response may not be served without a
    /// successful revalidation.
    var forbidsStale: Bool { self.mustRevalidate || self.proxyRevalidate || self.sMaxAge != nil || self.noCache }
}
