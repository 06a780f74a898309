import NIOHTTP1

extension CachePolicy {
    /// How a stored response may be used for a request.
    enum Use: Equatable, Sendable {
        /// Serve it.
        case fresh
        /// Serve it now and revalidate in the background (RFC 5861 §3).
        case staleWhileRevalidate
        /// The client's `max-stale` accepts it; no revalidation is required.
        case staleAllowed
        /// Contact the origin (a conditional request) before using it.
        case revalidate
    }

    /// Status codes whose caching rules this cache implements (for `must-understand`, §5.2.2.3).
    static func isUnderstood(_ status: UInt) -> Bool {
        switch status {
        case 200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501: return true
        default: return false
        }
    }

    /// RFC 9111 §3 (with §3.5 for `Authorization`) for a shared cache: may this response be
    /// stored? Only complete (non-206, no `Content-Range`) final responses to GET; not with
    /// `no-store` (request or response; a response's `must-understand` with an understood status
    /// overrides its `no-store`), not `private`, not `Vary: *` (such a response can never be
    /// reused, §4.1); with `Authorization` only when `public`, `must-revalidate` or `s-maxage`
    /// allow it; and only with explicit freshness, `public`, or a heuristically cacheable status.
    static func isStorable(method: HTTPMethod, requestHeaders: some FieldLines, status: UInt, responseHeaders: HTTPHeaders) -> Bool {
        guard method.isGET, status >= 200, status <= 599, status != 206, status != 304 else { return false }
        guard !responseHeaders.contains(name: "content-range") else { return false }
        let response = ResponseDirectives(responseHeaders)
        if response.mustUnderstand {
            guard Self.isUnderstood(status) else { return false }
        } else if response.noStore {
            return false
        }
        guard !response.isPrivate, !RequestDirectives(requestHeaders).noStore else { return false }
        guard Self.varyFields(responseHeaders) != nil else { return false }
        if Self.has(requestHeaders, "authorization") {
            guard response.isPublic || response.mustRevalidate || response.sMaxAge != nil else { return false }
        }
        return response.maxAge != nil || response.sMaxAge != nil || responseHeaders.contains(name: "expires")
            || response.isPublic || Self.isHeuristicallyCacheable(status)
    }

    /// RFC 9111 §4.2.1: `s-maxage`, else `max-age`, else `Expires` − `Date` (the first line of
    /// each; an invalid `Expires` means already expired; a missing or invalid `Date` counts as
    /// `responseTime`); else §4.2.2's heuristic, for heuristically cacheable statuses or `public`:
    /// 10% of `Date` − `Last-Modified`, at most one day. Never negative.
    static func freshnessLifetime(status: UInt, headers: HTTPHeaders, responseTime: Int64) -> Int64 {
        Self.freshnessLifetime(status: status, headers: headers, directives: ResponseDirectives(headers), responseTime: responseTime)
    }

    static func freshnessLifetime(status: UInt, headers: HTTPHeaders, directives: ResponseDirectives, responseTime: Int64) -> Int64 {
        if let sMaxAge = directives.sMaxAge { return sMaxAge }
        if let maxAge = directives.maxAge { return maxAge }
        let date = Self.firstValue(headers, "date").flatMap(Self.parseHTTPDate) ?? responseTime
        if let expiresText = Self.firstValue(headers, "expires") {
            guard let expires = Self.parseHTTPDate(expiresText) else { return 0 }
            return max(0, Self.subtract(expires, date))
        }
        guard directives.isPublic || Self.isHeuristicallyCacheable(status),
            let lastModified = Self.firstValue(headers, "last-modified").flatMap(Self.parseHTTPDate)
        else { return 0 }
        return min(max(0, Self.subtract(date, lastModified) / 10), Self.heuristicLimit)
    }

    /// RFC 9111 §4.2.3 `current_age`: the stored `Age` and `Date` corrected by the request and
    /// response times, plus the time since. An invalid `Age` counts as 0, a missing `Date` as
    /// `responseTime`. Never negative.
    static func currentAge(headers: HTTPHeaders, requestTime: Int64, responseTime: Int64, now: Int64) -> Int64 {
        let ageValue = Self.firstValue(headers, "age").flatMap(Self.parseDeltaSeconds) ?? 0
        let dateValue = Self.firstValue(headers, "date").flatMap(Self.parseHTTPDate) ?? responseTime
        let apparentAge = max(0, Self.subtract(responseTime, dateValue))
        let responseDelay = max(0, Self.subtract(responseTime, requestTime))
        let correctedAgeValue = Self.add(ageValue, responseDelay)
        let correctedInitialAge = max(apparentAge, correctedAgeValue)
        let residentTime = max(0, Self.subtract(now, responseTime))
        return Self.add(correctedInitialAge, residentTime)
    }

    /// What RFC 9111's arithmetic needs of a stored response, worked out once: its directives,
    /// its freshness lifetime (§4.2.1) and its corrected initial age (§4.2.3), so that its current
    /// age at any time is one addition.
    struct Freshness: Equatable, Sendable {
        var directives: ResponseDirectives
        var lifetime: Int64
        /// `corrected_initial_age`: the age the response had when it was received.
        var initialAge: Int64
        var responseTime: Int64

        init(status: UInt, headers: HTTPHeaders, requestTime: Int64, responseTime: Int64) {
            self.directives = ResponseDirectives(headers)
            self.lifetime = CachePolicy.freshnessLifetime(
                status: status, headers: headers, directives: self.directives, responseTime: responseTime)
            self.initialAge = CachePolicy.currentAge(
                headers: headers, requestTime: requestTime, responseTime: responseTime, now: responseTime)
            self.responseTime = responseTime
        }

        /// §4.2.3 `current_age` at `now`: the initial age plus the time since it was received.
        func age(now: Int64) -> Int64 {
            CachePolicy.add(self.initialAge, max(0, CachePolicy.subtract(now, self.responseTime)))
        }
    }

    /// RFC 9111 §4.2 and §4.3, RFC 5861 §3 and the request's directives: how `stored` may be used.
    /// - Request or response `no-cache` → revalidate.
    /// - Fresh (age < lifetime) → fresh, unless the request's `max-age` is exceeded (ignored for a
    ///   fresh `immutable` response, RFC 8246) or its `min-fresh` is not met.
    /// - Stale: `must-revalidate`, `proxy-revalidate` or `s-maxage` → revalidate (the client's
    ///   `max-stale` cannot override them); within `stale-while-revalidate` → staleWhileRevalidate;
    ///   within the client's `max-stale` → staleAllowed; otherwise revalidate.
    /// `traits`, when the caller has them, spares parsing a request that has no directives.
    static func use(_ stored: CachedResponse, request: some FieldLines, traits: RequestTraits? = nil, now: Int64) -> Use {
        let response = stored.freshness.directives
        let client = traits?.hasCacheDirectives == false ? RequestDirectives() : RequestDirectives(request)
        if response.noCache || client.noCache { return .revalidate }
        let lifetime = stored.freshness.lifetime
        let age = stored.freshness.age(now: now)
        let isFresh = age < lifetime
        if let maxAge = client.maxAge, age > maxAge, !(isFresh && response.immutable) { return .revalidate }
        if let minFresh = client.minFresh, Self.subtract(lifetime, age) < minFresh { return .revalidate }
        if isFresh { return .fresh }
        if response.forbidsStale { return .revalidate }
        let staleness = Self.subtract(age, lifetime)
        if let window = response.staleWhileRevalidate, staleness < window { return .staleWhileRevalidate }
        if let maxStale = client.maxStale, staleness <= maxStale { return .staleAllowed }
        return .revalidate
    }

    /// RFC 5861 §4: may `stored` be served because the origin failed (a connection error or a
    /// 500, 502, 503 or 504)? When its staleness is within the response's or the request's
    /// `stale-if-error`; never when `must-revalidate`, `proxy-revalidate`, `s-maxage` or
    /// `no-cache` forbid serving it stale (RFC 9111 §4.2.4). A still-fresh response qualifies.
    static func mayServeStaleOnError(_ stored: CachedResponse, request: some FieldLines, now: Int64) -> Bool {
        let response = stored.freshness.directives
        guard !response.forbidsStale else { return false }
        let lifetime = stored.freshness.lifetime
        let age = stored.freshness.age(now: now)
        let staleness = max(0, Self.subtract(age, lifetime))
        if let window = response.staleIfError, staleness <= window { return true }
        if let window = RequestDirectives(request).staleIfError, staleness <= window { return true }
        return false
    }

    /// How many seconds the store should keep `stored`, counted from its `responseTime`: the
    /// freshness left (lifetime − initial age) plus the larger stale window
    /// (`stale-while-revalidate`, `stale-if-error`); with a validator (`ETag` or `Last-Modified`)
    /// at least `revalidationGrace` beyond the freshness, so it can be revalidated. At least 1.
    static func storeTTL(_ stored: CachedResponse, revalidationGrace: Int64) -> Int64 {
        let response = stored.freshness.directives
        let lifetime = stored.freshness.lifetime
        let initialAge = stored.freshness.initialAge
        let freshness = max(0, Self.subtract(lifetime, initialAge))
        let staleWindow = response.forbidsStale ? 0 : max(response.staleWhileRevalidate ?? 0, response.staleIfError ?? 0)
        var ttl = Self.add(freshness, staleWindow)
        if stored.headers.contains(name: "etag") || stored.headers.contains(name: "last-modified") {
            ttl = max(ttl, Self.add(freshness, max(0, revalidationGrace)))
        }
        return max(1, ttl)
    }
}
