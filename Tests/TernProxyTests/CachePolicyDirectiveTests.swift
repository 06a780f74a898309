import NIOHTTP1
import XCTest

@testable import TernProxy

/// Builds header fields from `name: value` pairs, keeping order and repeated names.
func cacheTestHeaders(_ pairs: [(String, String)]) -> HTTPHeaders { HTTPHeaders(pairs) }

final class CachePolicyDirectiveTests: XCTestCase {
    typealias Request = CachePolicy.RequestDirectives
    typealias Response = CachePolicy.ResponseDirectives

    func testRequestDirectives() {
        func r(_ body: (inout Request) -> Void) -> Request {
            var value = Request()
            body(&value)
            return value
        }
        let rows: [(headers: [(String, String)], expected: Request, line: UInt)] = [
            ([], Request(), #line),
            ([("Cache-Control", "no-store")], r { $0.noStore = true }, #line),
            ([("Cache-Control", "No-Cache")], r { $0.noCache = true }, #line),
            ([("cache-control", "only-if-cached")], r { $0.onlyIfCached = true }, #line),
            ([("Cache-Control", "max-age=30")], r { $0.maxAge = 30 }, #line),
            ([("Cache-Control", "max-age=\"30\"")], r { $0.maxAge = 30 }, #line),
            ([("Cache-Control", "max-age=abc")], r { $0.maxAge = 0 }, #line),
            ([("Cache-Control", "max-age")], r { $0.maxAge = 0 }, #line),
            ([("Cache-Control", "max-age=-5")], r { $0.maxAge = 0 }, #line),
            ([("Cache-Control", "max-age=60, max-age=10")], r { $0.maxAge = 10 }, #line),
            ([("Cache-Control", "max-age=99999999999999999999999")], r { $0.maxAge = 2_147_483_648 }, #line),
            ([("Cache-Control", "max-stale")], r { $0.maxStale = Int64.max }, #line),
            ([("Cache-Control", "max-stale=20")], r { $0.maxStale = 20 }, #line),
            ([("Cache-Control", "max-stale=x")], Request(), #line),
            ([("Cache-Control", "max-stale, max-stale=5")], r { $0.maxStale = 5 }, #line),
            ([("Cache-Control", "min-fresh=15")], r { $0.minFresh = 15 }, #line),
            ([("Cache-Control", "min-fresh=15, min-fresh=40")], r { $0.minFresh = 40 }, #line),
            ([("Cache-Control", "min-fresh=")], Request(), #line),
            ([("Cache-Control", "stale-if-error=90")], r { $0.staleIfError = 90 }, #line),
            ([("Cache-Control", "  max-age = 7 ,, no-cache ,")], r { $0.maxAge = 7; $0.noCache = true }, #line),
            ([("Cache-Control", "max-age=5"), ("Cache-Control", "no-store")], r { $0.maxAge = 5; $0.noStore = true }, #line),
            ([("Cache-Control", "foo=\"a,no-store\", bar")], Request(), #line),
            ([("Cache-Control", "no-transform, unknown=1")], Request(), #line),
            ([("Pragma", "no-cache")], r { $0.noCache = true }, #line),
            ([("Pragma", "x, NO-CACHE")], r { $0.noCache = true }, #line),
            ([("Pragma", "no-cache"), ("Cache-Control", "max-age=5")], r { $0.maxAge = 5 }, #line),
            ([("Pragma", "other")], Request(), #line),
        ]
        for row in rows {
            XCTAssertEqual(Request(cacheTestHeaders(row.headers)), row.expected, line: row.line)
        }
    }

    func testResponseDirectives() {
        func r(_ body: (inout Response) -> Void) -> Response {
            var value = Response()
            body(&value)
            return value
        }
        let rows: [(value: String, expected: Response, line: UInt)] = [
            ("", Response(), #line),
            ("no-store", r { $0.noStore = true }, #line),
            ("no-cache", r { $0.noCache = true }, #line),
            ("no-cache=\"Set-Cookie, X-Foo\"", r { $0.noCache = true }, #line),
            ("private", r { $0.isPrivate = true }, #line),
            ("private=\"x\"", r { $0.isPrivate = true }, #line),
            ("PUBLIC", r { $0.isPublic = true }, #line),
            ("must-revalidate", r { $0.mustRevalidate = true }, #line),
            ("proxy-revalidate", r { $0.proxyRevalidate = true }, #line),
            ("immutable", r { $0.immutable = true }, #line),
            ("must-understand, no-store", r { $0.mustUnderstand = true; $0.noStore = true }, #line),
            ("max-age=3600", r { $0.maxAge = 3600 }, #line),
            ("max-age=\"3600\"", r { $0.maxAge = 3600 }, #line),
            ("max-age=1.5", r { $0.maxAge = 0 }, #line),
            ("max-age", r { $0.maxAge = 0 }, #line),
            ("max-age=100, max-age=50", r { $0.maxAge = 50 }, #line),
            ("s-maxage=20", r { $0.sMaxAge = 20 }, #line),
            ("s-maxage=bad", r { $0.sMaxAge = 0 }, #line),
            ("stale-while-revalidate=30", r { $0.staleWhileRevalidate = 30 }, #line),
            ("stale-while-revalidate=x", Response(), #line),
            ("stale-if-error=600", r { $0.staleIfError = 600 }, #line),
            ("stale-if-error", Response(), #line),
            ("public, max-age=60, s-maxage=30, stale-while-revalidate=5, stale-if-error=9, immutable",
             r { $0.isPublic = true; $0.maxAge = 60; $0.sMaxAge = 30; $0.staleWhileRevalidate = 5; $0.staleIfError = 9; $0.immutable = true }, #line),
            ("ext=\"quoted, max-age=1\", max-age=9", r { $0.maxAge = 9 }, #line),
            ("ext=\"unterminated, max-age=1", Response(), #line),
            ("max-age=9, no-transform, community=\"UCI\"", r { $0.maxAge = 9 }, #line),
        ]
        for row in rows {
            XCTAssertEqual(Response(cacheTestHeaders([("Cache-Control", row.value)])), row.expected, line: row.line)
        }
        // Directives spread over several lines are all read.
        let split = Response(cacheTestHeaders([("Cache-Control", "public"), ("X", "y"), ("cache-control", "max-age=4")]))
        XCTAssertEqual(split, r { $0.isPublic = true; $0.maxAge = 4 })
        // Pragma does not affect responses.
        XCTAssertEqual(Response(cacheTestHeaders([("Pragma", "no-cache")])), Response())
    }
}
