import NIOHTTP1
import XCTest

@testable import TernProxy

final class CachePolicyInvalidationTests: XCTestCase {
    func testUnsafeMethodsWithNonErrorStatusInvalidate() {
        let rows: [(method: HTTPMethod, status: UInt, expected: Bool, line: UInt)] = [
            (.GET, 200, false, #line),
            (.HEAD, 200, false, #line),
            (.OPTIONS, 204, false, #line),
            (.TRACE, 200, false, #line),
            (.RAW(value: "GET"), 200, false, #line),
            (.POST, 200, true, #line),
            (.POST, 201, true, #line),
            (.POST, 303, true, #line),
            (.PUT, 204, true, #line),
            (.DELETE, 200, true, #line),
            (.PATCH, 200, true, #line),
            (.RAW(value: "PURGEX"), 200, true, #line),
            (.POST, 100, false, #line),
            (.POST, 400, false, #line),
            (.DELETE, 404, false, #line),
            (.PUT, 500, false, #line),
            (.POST, 399, true, #line),
        ]
        for row in rows {
            XCTAssertEqual(CachePolicy.invalidates(method: row.method, status: row.status), row.expected, line: row.line)
        }
    }

    func testInvalidationTargetsAreSameOriginOnly() {
        typealias Row = (headers: [(String, String)], scheme: String, host: String, path: String, expected: [String], line: UInt)
        let rows: [Row] = [
            ([], "http", "a.example", "/items", [], #line),
            ([("Location", "/items/7")], "http", "a.example", "/items", ["/items/7"], #line),
            ([("Location", "http://a.example/items/7?x=1")], "http", "a.example", "/items", ["/items/7?x=1"], #line),
            ([("Location", "HTTP://A.Example/items/7")], "http", "a.example", "/items", ["/items/7"], #line),
            ([("Location", "http://a.example:80/x")], "http", "a.example", "/items", ["/x"], #line),
            ([("Location", "https://a.example:443/x")], "https", "a.example", "/items", ["/x"], #line),
            ([("Location", "http://a.example/x")], "http", "a.example:80", "/items", ["/x"], #line),
            ([("Location", "http://a.example:8080/x")], "http", "a.example:8080", "/items", ["/x"], #line),
            ([("Location", "http://a.example")], "http", "a.example", "/items", ["/"], #line),
            ([("Location", "http://a.example?q")], "http", "a.example", "/items", ["/?q"], #line),
            ([("Location", "http://a.example/x#frag")], "http", "a.example", "/items", ["/x"], #line),
            ([("Location", "//a.example/x")], "http", "a.example", "/items", ["/x"], #line),
            // Other origins: ignored.
            ([("Location", "http://b.example/x")], "http", "a.example", "/items", [], #line),
            ([("Location", "https://a.example/x")], "http", "a.example", "/items", [], #line),
            ([("Location", "http://a.example:8080/x")], "http", "a.example", "/items", [], #line),
            ([("Location", "http://a.example.evil/x")], "http", "a.example", "/items", [], #line),
            ([("Location", "http://user@a.example/x")], "http", "a.example", "/items", [], #line),
            ([("Location", "//b.example/x")], "http", "a.example", "/items", [], #line),
            ([("Location", "mailto:x@a.example")], "http", "a.example", "/items", [], #line),
            // Relative references resolve against the request path.
            ([("Location", "7")], "http", "a.example", "/items/", ["/items/7"], #line),
            ([("Location", "7")], "http", "a.example", "/items/list?page=2", ["/items/7"], #line),
            ([("Location", "../up")], "http", "a.example", "/a/b/c", ["/a/up"], #line),
            ([("Location", "../../../../up")], "http", "a.example", "/a/b", ["/up"], #line),
            ([("Location", "./")], "http", "a.example", "/a/b", ["/a/"], #line),
            ([("Location", "?sorted")], "http", "a.example", "/items?x", ["/items?sorted"], #line),
            ([("Location", "/a/./b/../c")], "http", "a.example", "/items", ["/a/c"], #line),
            // Content-Location too; duplicates and the request target itself are dropped.
            ([("Content-Location", "/items/7.json")], "https", "a.example", "/items/7", ["/items/7.json"], #line),
            ([("Location", "/n"), ("Content-Location", "/n")], "http", "a.example", "/items", ["/n"], #line),
            ([("Location", "/m"), ("Content-Location", "http://a.example/n")], "http", "a.example", "/items", ["/m", "/n"], #line),
            ([("Location", "/items")], "http", "a.example", "/items", [], #line),
            ([("Location", "")], "http", "a.example", "/items", [], #line),
            ([("Location", "/bad path")], "http", "a.example", "/items", [], #line),
        ]
        for row in rows {
            let targets = CachePolicy.invalidationTargets(
                responseHeaders: cacheTestHeaders(row.headers), scheme: row.scheme, host: row.host, requestPath: row.path)
            XCTAssertEqual(targets, row.expected, line: row.line)
        }
    }

    func testCacheStatusRendering() {
        typealias S = CachePolicy.CacheStatus
        func s(_ body: (inout S) -> Void) -> S {
            var value = S()
            body(&value)
            return value
        }
        let rows: [(status: S, expected: String, line: UInt)] = [
            (S(), "tern", #line),
            (s { $0.hit = true }, "tern; hit", #line),
            (s { $0.hit = true; $0.ttl = 12 }, "tern; hit; ttl=12", #line),
            (s { $0.hit = true; $0.ttl = -3 }, "tern; hit; ttl=-3", #line),
            (s { $0.forward = .uriMiss; $0.stored = true }, "tern; fwd=uri-miss; stored", #line),
            (s { $0.forward = .varyMiss; $0.forwardStatus = 200 }, "tern; fwd=vary-miss; fwd-status=200", #line),
            (s { $0.forward = .stale; $0.forwardStatus = 304 }, "tern; fwd=stale; fwd-status=304", #line),
            (s { $0.forward = .miss; $0.collapsed = true }, "tern; fwd=miss; collapsed", #line),
            (s { $0.forward = .bypass }, "tern; fwd=bypass", #line),
            (s { $0.forward = .method }, "tern; fwd=method", #line),
            (s { $0.forward = .request }, "tern; fwd=request", #line),
            (s { $0.forward = .miss; $0.detail = "store-down" }, "tern; fwd=miss; detail=store-down", #line),
            (s { $0.forward = .miss; $0.detail = "redis timeout \"x\"\\y\u{1}" }, "tern; fwd=miss; detail=\"redis timeout \\\"x\\\"\\\\y\"", #line),
            (s { $0.hit = true; $0.forward = .stale; $0.forwardStatus = 304; $0.ttl = 5; $0.stored = true; $0.collapsed = true; $0.detail = "d" },
             "tern; hit; fwd=stale; fwd-status=304; ttl=5; stored; collapsed; detail=d", #line),
        ]
        for row in rows {
            XCTAssertEqual(row.status.render(cacheName: "tern"), row.expected, line: row.line)
        }
        XCTAssertEqual(s { $0.hit = true }.render(cacheName: "edge cache"), "\"edge cache\"; hit")
        XCTAssertEqual(s { $0.hit = true }.render(cacheName: "1cache"), "\"1cache\"; hit")
    }
}
