import NIOHTTP1
import XCTest

@testable import TernProxy

final class CachePolicyFreshnessTests: XCTestCase {
    /// The response time of every stored response below.
    static let t: Int64 = 1_000_000_000
    static func date(_ offset: Int64) -> String { CachePolicy.formatHTTPDate(Self.t + offset) }

    func testStorability() {
        let d = Self.date
        typealias Row = (method: HTTPMethod, request: [(String, String)], status: UInt, response: [(String, String)], expected: Bool, line: UInt)
        let rows: [Row] = [
            (.GET, [], 200, [], true, #line),  // heuristically cacheable status
            (.HEAD, [], 200, [("Cache-Control", "max-age=60")], false, #line),  // only GET is stored
            (.POST, [], 200, [("Cache-Control", "max-age=60")], false, #line),
            (.PUT, [], 200, [("Cache-Control", "public")], false, #line),
            (.GET, [], 100, [("Cache-Control", "max-age=60")], false, #line),  // not final
            (.GET, [], 206, [("Cache-Control", "max-age=60")], false, #line),  // partial: never
            (.GET, [], 200, [("Cache-Control", "max-age=60"), ("Content-Range", "bytes 0-1/10")], false, #line),
            (.GET, [], 304, [("Cache-Control", "max-age=60")], false, #line),
            (.GET, [], 600, [("Cache-Control", "max-age=60")], false, #line),
            (.GET, [], 203, [], true, #line),
            (.GET, [], 204, [], true, #line),
            (.GET, [], 300, [], true, #line),
            (.GET, [], 301, [], true, #line),
            (.GET, [], 308, [], true, #line),
            (.GET, [], 404, [], true, #line),
            (.GET, [], 405, [], true, #line),
            (.GET, [], 410, [], true, #line),
            (.GET, [], 414, [], true, #line),
            (.GET, [], 501, [], true, #line),
            (.GET, [], 302, [], false, #line),  // not heuristically cacheable, no explicit freshness
            (.GET, [], 307, [], false, #line),
            (.GET, [], 500, [], false, #line),
            (.GET, [], 503, [], false, #line),
            (.GET, [], 302, [("Cache-Control", "max-age=60")], true, #line),
            (.GET, [], 302, [("Cache-Control", "s-maxage=60")], true, #line),
            (.GET, [], 302, [("Expires", d(60))], true, #line),
            (.GET, [], 302, [("Expires", "garbage")], true, #line),  // present, already expired, revalidatable
            (.GET, [], 500, [("Cache-Control", "public")], true, #line),
            (.GET, [], 200, [("Cache-Control", "no-store")], false, #line),
            (.GET, [], 200, [("Cache-Control", "max-age=60, no-store")], false, #line),
            (.GET, [("Cache-Control", "no-store")], 200, [("Cache-Control", "max-age=60")], false, #line),
            (.GET, [("Cache-Control", "no-cache")], 200, [("Cache-Control", "max-age=60")], true, #line),
            (.GET, [], 200, [("Cache-Control", "private")], false, #line),
            (.GET, [], 200, [("Cache-Control", "private=\"set-cookie\", max-age=60")], false, #line),
            (.GET, [], 200, [("Cache-Control", "no-cache")], true, #line),  // stored, revalidated on use
            (.GET, [], 200, [("Cache-Control", "must-understand, no-store, max-age=60")], true, #line),
            (.GET, [], 299, [("Cache-Control", "must-understand, no-store, max-age=60")], false, #line),
            (.GET, [], 200, [("Vary", "*")], false, #line),
            (.GET, [], 200, [("Vary", "Accept-Encoding")], true, #line),
            (.GET, [], 200, [("Set-Cookie", "a=b"), ("Cache-Control", "max-age=60")], true, #line),
            // §3.5: Authorization only with public, must-revalidate or s-maxage.
            (.GET, [("Authorization", "Basic eA==")], 200, [("Cache-Control", "max-age=60")], false, #line),
            (.GET, [("Authorization", "Basic eA==")], 200, [], false, #line),
            (.GET, [("Authorization", "Basic eA==")], 200, [("Cache-Control", "public")], true, #line),
            (.GET, [("Authorization", "Basic eA==")], 200, [("Cache-Control", "must-revalidate")], true, #line),
            (.GET, [("Authorization", "Basic eA==")], 200, [("Cache-Control", "s-maxage=10")], true, #line),
            (.GET, [("Authorization", "Basic eA==")], 200, [("Cache-Control", "proxy-revalidate")], false, #line),
            (.GET, [("Authorization", "Basic eA==")], 200, [("Cache-Control", "public, private")], false, #line),
        ]
        for row in rows {
            let storable = CachePolicy.isStorable(
                method: row.method, requestHeaders: cacheTestHeaders(row.request), status: row.status,
                responseHeaders: cacheTestHeaders(row.response))
            XCTAssertEqual(storable, row.expected, line: row.line)
        }
    }

    func testFreshnessLifetime() {
        let d = Self.date
        let rows: [(status: UInt, headers: [(String, String)], expected: Int64, line: UInt)] = [
            (200, [], 0, #line),
            (200, [("Cache-Control", "max-age=60")], 60, #line),
            (200, [("Cache-Control", "max-age=60, s-maxage=10")], 10, #line),  // shared cache: s-maxage first
            (200, [("Cache-Control", "s-maxage=0, max-age=60")], 0, #line),
            (200, [("Cache-Control", "max-age=60"), ("Expires", d(1000)), ("Date", d(0))], 60, #line),
            (200, [("Cache-Control", "max-age=oops"), ("Expires", d(1000))], 0, #line),
            (200, [("Expires", d(100)), ("Date", d(0))], 100, #line),
            (200, [("Expires", d(100))], 100, #line),  // no Date: the response time
            (200, [("Expires", d(100)), ("Date", "bad date")], 100, #line),
            (200, [("Expires", d(100)), ("Date", d(40))], 60, #line),  // Date ahead of our clock
            (200, [("Expires", d(-100)), ("Date", d(0))], 0, #line),  // never negative
            (200, [("Expires", "0"), ("Last-Modified", d(-100_000))], 0, #line),  // invalid = expired, no heuristic
            (200, [("Expires", d(100)), ("Expires", d(500)), ("Date", d(0))], 100, #line),  // first line
            (200, [("Expires", "Sunday, 06-Nov-94 08:49:37 GMT"), ("Date", "Sun, 06 Nov 1994 08:48:37 GMT")], 60, #line),
            // §4.2.2 heuristic: 10% of Date - Last-Modified, at most one day.
            (200, [("Last-Modified", d(-1000)), ("Date", d(0))], 100, #line),
            (200, [("Last-Modified", d(-1000))], 100, #line),
            (200, [("Last-Modified", d(-1005)), ("Date", d(0))], 100, #line),
            (200, [("Last-Modified", d(-100_000_000)), ("Date", d(0))], 86_400, #line),
            (200, [("Last-Modified", d(1000)), ("Date", d(0))], 0, #line),  // modified in the future
            (200, [("Last-Modified", "yesterday")], 0, #line),
            (404, [("Last-Modified", d(-1000))], 100, #line),
            (302, [("Last-Modified", d(-1000))], 0, #line),  // not heuristically cacheable
            (302, [("Last-Modified", d(-1000)), ("Cache-Control", "public")], 100, #line),
            (500, [("Last-Modified", d(-1000))], 0, #line),
            (200, [("Cache-Control", "max-age=999999999999")], 2_147_483_648, #line),
        ]
        for row in rows {
            let lifetime = CachePolicy.freshnessLifetime(status: row.status, headers: cacheTestHeaders(row.headers), responseTime: Self.t)
            XCTAssertEqual(lifetime, row.expected, line: row.line)
        }
    }

    /// RFC 9111 §4.2.3: apparent_age = max(0, response_time - date_value); corrected_age_value =
    /// age_value + (response_time - request_time); corrected_initial_age = max of the two;
    /// current_age = corrected_initial_age + (now - response_time).
    func testCurrentAge() {
        let d = Self.date
        let t = Self.t
        let rows: [(headers: [(String, String)], requestTime: Int64, now: Int64, expected: Int64, line: UInt)] = [
            ([], t, t, 0, #line),
            ([], t, t + 30, 30, #line),  // resident time only
            ([("Date", d(0))], t - 2, t, 2, #line),  // response_delay 2
            ([("Date", d(-5))], t, t, 5, #line),  // apparent age 5
            ([("Date", d(-5)), ("Age", "10")], t - 2, t + 30, 42, #line),  // max(5, 10 + 2) + 30
            ([("Date", d(-50)), ("Age", "10")], t - 2, t + 30, 80, #line),  // max(50, 12) + 30
            ([("Date", d(20)), ("Age", "3")], t - 1, t + 6, 10, #line),  // Date in the future: apparent 0
            ([("Age", "garbage")], t, t + 1, 1, #line),
            ([("Age", "-4")], t, t, 0, #line),
            ([("Age", "7"), ("Age", "100")], t, t, 7, #line),  // first line
            ([("Age", "99999999999999999999")], t, t, 2_147_483_648, #line),
            ([], t + 5, t, 0, #line),  // request after response (clock skew): delay 0
            ([], t, t - 100, 0, #line),  // now before response time: resident 0
            ([("Date", "Thu, 01 Jan 1970 00:00:00 GMT")], t, t, t, #line),
        ]
        for row in rows {
            let age = CachePolicy.currentAge(headers: cacheTestHeaders(row.headers), requestTime: row.requestTime, responseTime: t, now: row.now)
            XCTAssertEqual(age, row.expected, line: row.line)
        }
    }

    func testUse() {
        let d = Self.date
        typealias Use = CachePolicy.Use
        typealias Row = (response: [(String, String)], request: [(String, String)], age: Int64, expected: Use, line: UInt)
        let rows: [Row] = [
            ([("Cache-Control", "max-age=60")], [], 0, .fresh, #line),
            ([("Cache-Control", "max-age=60")], [], 59, .fresh, #line),
            ([("Cache-Control", "max-age=60")], [], 60, .revalidate, #line),  // fresh only while age < lifetime
            ([("Cache-Control", "max-age=60")], [], 1000, .revalidate, #line),
            ([], [], 0, .revalidate, #line),  // no freshness information
            ([("Last-Modified", d(-1000))], [], 99, .fresh, #line),  // heuristic 100
            ([("Last-Modified", d(-1000))], [], 100, .revalidate, #line),
            ([("Expires", d(30)), ("Date", d(0))], [], 29, .fresh, #line),
            ([("Expires", d(30)), ("Date", d(0))], [], 30, .revalidate, #line),
            ([("Expires", "never")], [], 0, .revalidate, #line),
            ([("Cache-Control", "max-age=60"), ("Age", "50")], [], 9, .fresh, #line),
            ([("Cache-Control", "max-age=60"), ("Age", "50")], [], 10, .revalidate, #line),
            // no-cache, request and response.
            ([("Cache-Control", "max-age=60, no-cache")], [], 0, .revalidate, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "no-cache")], 0, .revalidate, #line),
            ([("Cache-Control", "max-age=60")], [("Pragma", "no-cache")], 0, .revalidate, #line),
            ([("Cache-Control", "max-age=60, immutable")], [("Cache-Control", "no-cache")], 0, .revalidate, #line),
            // Request max-age and min-fresh.
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "max-age=10")], 10, .fresh, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "max-age=10")], 11, .revalidate, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "max-age=0")], 0, .fresh, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "max-age=0")], 1, .revalidate, #line),
            ([("Cache-Control", "max-age=60, immutable")], [("Cache-Control", "max-age=0")], 30, .fresh, #line),
            ([("Cache-Control", "max-age=60, immutable")], [("Cache-Control", "max-age=0")], 60, .revalidate, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "min-fresh=20")], 40, .fresh, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "min-fresh=20")], 41, .revalidate, #line),
            ([("Cache-Control", "max-age=60, immutable")], [("Cache-Control", "min-fresh=20")], 41, .revalidate, #line),
            // Request max-stale.
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "max-stale=30")], 90, .staleAllowed, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "max-stale=30")], 91, .revalidate, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "max-stale")], 1_000_000, .staleAllowed, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "max-stale=x")], 61, .revalidate, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "max-stale, max-age=70")], 71, .revalidate, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "max-stale, min-fresh=1")], 70, .revalidate, #line),
            ([("Cache-Control", "max-age=60, must-revalidate")], [("Cache-Control", "max-stale")], 61, .revalidate, #line),
            ([("Cache-Control", "max-age=60, proxy-revalidate")], [("Cache-Control", "max-stale")], 61, .revalidate, #line),
            ([("Cache-Control", "s-maxage=60")], [("Cache-Control", "max-stale")], 61, .revalidate, #line),
            ([("Cache-Control", "max-age=60, must-revalidate")], [("Cache-Control", "max-stale")], 59, .fresh, #line),
            // stale-while-revalidate (RFC 5861 §3).
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30")], [], 59, .fresh, #line),
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30")], [], 60, .staleWhileRevalidate, #line),
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30")], [], 89, .staleWhileRevalidate, #line),
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30")], [], 90, .revalidate, #line),
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30, must-revalidate")], [], 61, .revalidate, #line),
            ([("Cache-Control", "s-maxage=60, stale-while-revalidate=30")], [], 61, .revalidate, #line),
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30, no-cache")], [], 0, .revalidate, #line),
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30")], [("Cache-Control", "max-stale=100")], 70, .staleWhileRevalidate, #line),
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30")], [("Cache-Control", "max-stale=100")], 150, .staleAllowed, #line),
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30")], [("Cache-Control", "no-cache")], 70, .revalidate, #line),
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30")], [("Cache-Control", "max-age=5")], 70, .revalidate, #line),
            // Directives the request may carry that do not affect use.
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "only-if-cached")], 10, .fresh, #line),
            ([("Cache-Control", "max-age=60")], [("Cache-Control", "no-store")], 10, .fresh, #line),
        ]
        for row in rows {
            let stored = CachedResponse(status: 200, headers: cacheTestHeaders(row.response), requestTime: Self.t, responseTime: Self.t)
            let use = CachePolicy.use(stored, request: cacheTestHeaders(row.request), now: Self.t + row.age)
            XCTAssertEqual(use, row.expected, line: row.line)
        }
    }

    func testStaleOnError() {
        let rows: [(response: String, request: [(String, String)], age: Int64, expected: Bool, line: UInt)] = [
            ("max-age=60", [], 100, false, #line),
            ("max-age=60", [], 10, false, #line),  // no stale-if-error at all
            ("max-age=60, stale-if-error=100", [], 10, true, #line),  // fresh qualifies
            ("max-age=60, stale-if-error=100", [], 160, true, #line),
            ("max-age=60, stale-if-error=100", [], 161, false, #line),
            ("max-age=60", [("Cache-Control", "stale-if-error=50")], 110, true, #line),
            ("max-age=60", [("Cache-Control", "stale-if-error=50")], 111, false, #line),
            ("max-age=60, stale-if-error=10", [("Cache-Control", "stale-if-error=50")], 100, true, #line),
            ("max-age=60, stale-if-error=100, must-revalidate", [], 70, false, #line),
            ("max-age=60, stale-if-error=100, proxy-revalidate", [], 70, false, #line),
            ("s-maxage=60, stale-if-error=100", [], 70, false, #line),
            ("max-age=60, stale-if-error=100, no-cache", [], 70, false, #line),
            ("max-age=60, stale-if-error=100", [("Cache-Control", "stale-if-error=x")], 70, true, #line),
        ]
        for row in rows {
            let stored = CachedResponse(
                status: 200, headers: cacheTestHeaders([("Cache-Control", row.response)]), requestTime: Self.t, responseTime: Self.t)
            let allowed = CachePolicy.mayServeStaleOnError(stored, request: cacheTestHeaders(row.request), now: Self.t + row.age)
            XCTAssertEqual(allowed, row.expected, line: row.line)
        }
    }

    func testStoreTTL() {
        let d = Self.date
        let rows: [(headers: [(String, String)], grace: Int64, expected: Int64, line: UInt)] = [
            ([("Cache-Control", "max-age=60")], 300, 60, #line),  // no validator: no grace
            ([("Cache-Control", "max-age=60"), ("ETag", "\"a\"")], 300, 360, #line),
            ([("Cache-Control", "max-age=60"), ("Last-Modified", d(-10))], 300, 360, #line),
            ([("Cache-Control", "max-age=60"), ("Age", "20")], 300, 40, #line),  // freshness left
            ([("Cache-Control", "max-age=60"), ("Age", "100")], 300, 1, #line),  // at least 1
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30")], 300, 90, #line),
            ([("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=500")], 300, 560, #line),
            ([("Cache-Control", "max-age=60, stale-if-error=500"), ("ETag", "\"a\"")], 300, 560, #line),
            ([("Cache-Control", "max-age=60, stale-if-error=500, must-revalidate")], 300, 60, #line),
            ([("Cache-Control", "no-cache"), ("ETag", "\"a\"")], 300, 300, #line),
            ([("Cache-Control", "max-age=60"), ("ETag", "\"a\"")], -5, 60, #line),
            ([("Cache-Control", "max-age=2147483648, stale-if-error=2147483648"), ("ETag", "\"a\"")], Int64.max, Int64.max, #line),
            ([], 0, 1, #line),
        ]
        for row in rows {
            let stored = CachedResponse(status: 200, headers: cacheTestHeaders(row.headers), requestTime: Self.t, responseTime: Self.t)
            XCTAssertEqual(CachePolicy.storeTTL(stored, revalidationGrace: row.grace), row.expected, line: row.line)
        }
    }
}
