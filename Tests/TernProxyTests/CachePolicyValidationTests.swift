import NIOHTTP1
import XCTest

@testable import TernProxy

final class CachePolicyValidationTests: XCTestCase {
    static let lastModified = "Sun, 06 Nov 1994 08:49:37 GMT"
    static let earlier = "Sun, 06 Nov 1994 08:49:36 GMT"
    static let later = "Sun, 06 Nov 1994 08:49:38 GMT"

    func testValidators() {
        let rows: [(stored: [(String, String)], expected: [String], line: UInt)] = [
            ([], [], #line),
            ([("ETag", "\"v1\"")], ["If-None-Match: \"v1\""], #line),
            ([("ETag", "W/\"v1\"")], ["If-None-Match: W/\"v1\""], #line),
            ([("Last-Modified", Self.lastModified)], ["If-Modified-Since: \(Self.lastModified)"], #line),
            ([("Last-Modified", Self.lastModified), ("etag", "\"x\"")],
             ["If-None-Match: \"x\"", "If-Modified-Since: \(Self.lastModified)"], #line),
            ([("ETag", "")], [], #line),
        ]
        for row in rows {
            let fields = CachePolicy.validators(for: cacheTestHeaders(row.stored)).map { "\($0.name): \($0.value)" }
            XCTAssertEqual(fields, row.expected, line: row.line)
        }
    }

    func testUpdatedHeadersFromA304() {
        let stored = cacheTestHeaders([
            ("Content-Type", "text/plain"), ("Content-Length", "5"), ("Content-Encoding", "gzip"), ("ETag", "\"v1\""),
            ("Cache-Control", "max-age=10"), ("Date", "old"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Kept", "k"),
        ])
        let notModified = cacheTestHeaders([
            ("Date", "new"), ("cache-control", "max-age=60"), ("Content-Length", "0"), ("Content-Encoding", "br"),
            ("Transfer-Encoding", "chunked"), ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"), ("Keep-Alive", "timeout=5"),
            ("Content-Range", "bytes */5"), ("Set-Cookie", "c=3"), ("ETag", "\"v1\""), ("X-New", "n1"), ("X-New", "n2"),
            ("Upgrade", "h2c"), ("Proxy-Authenticate", "Basic"),
        ])
        let updated = CachePolicy.updatedHeaders(stored: stored, notModified: notModified)
        XCTAssertEqual(updated["Content-Type"], ["text/plain"])
        XCTAssertEqual(updated["Content-Length"], ["5"])
        XCTAssertEqual(updated["Content-Encoding"], ["gzip"])
        XCTAssertEqual(updated["Date"], ["new"])
        XCTAssertEqual(updated["Cache-Control"], ["max-age=60"])
        XCTAssertEqual(updated["Set-Cookie"], ["c=3"], "all stored lines of a field are replaced")
        XCTAssertEqual(updated["ETag"], ["\"v1\""])
        XCTAssertEqual(updated["X-Kept"], ["k"])
        XCTAssertEqual(updated["X-New"], ["n1", "n2"])
        for name in ["Transfer-Encoding", "Connection", "X-Hop", "Keep-Alive", "Content-Range", "Upgrade", "Proxy-Authenticate"] {
            XCTAssertFalse(updated.contains(name: name), name)
        }
        // A 304 with nothing new leaves the stored fields as they are.
        let same = CachePolicy.updatedHeaders(stored: stored, notModified: cacheTestHeaders([("Content-Length", "0")]))
        XCTAssertEqual(Array(same.map { "\($0.name):\($0.value)" }), Array(stored.map { "\($0.name):\($0.value)" }))
    }

    func testConditionalRequests() {
        typealias C = CachePolicy.Conditional
        let strong = [("ETag", "\"v1\""), ("Last-Modified", Self.lastModified)]
        let weak = [("ETag", "W/\"v1\""), ("Last-Modified", Self.lastModified)]
        let dateOnly = [("Date", Self.lastModified)]
        typealias Row = (method: HTTPMethod, request: [(String, String)], stored: [(String, String)], expected: C, line: UInt)
        let rows: [Row] = [
            (.GET, [], strong, .proceed, #line),
            // If-None-Match: weak comparison.
            (.GET, [("If-None-Match", "\"v1\"")], strong, .notModified, #line),
            (.HEAD, [("If-None-Match", "\"v1\"")], strong, .notModified, #line),
            (.GET, [("If-None-Match", "W/\"v1\"")], strong, .notModified, #line),
            (.GET, [("If-None-Match", "\"v1\"")], weak, .notModified, #line),
            (.GET, [("If-None-Match", "\"v2\"")], strong, .proceed, #line),
            (.GET, [("If-None-Match", "\"v0\", \"v1\"")], strong, .notModified, #line),
            (.GET, [("If-None-Match", "\"v0\""), ("If-None-Match", "\"v1\"")], strong, .notModified, #line),
            (.GET, [("If-None-Match", "*")], strong, .notModified, #line),
            (.GET, [("If-None-Match", "\"v1\"")], dateOnly, .proceed, #line),
            (.GET, [("If-None-Match", "\"a,b\", \"v1\"")], strong, .notModified, #line),
            (.DELETE, [("If-None-Match", "\"v1\"")], strong, .preconditionFailed, #line),
            // If-None-Match takes precedence over If-Modified-Since.
            (.GET, [("If-None-Match", "\"v2\""), ("If-Modified-Since", Self.later)], strong, .proceed, #line),
            // If-Modified-Since.
            (.GET, [("If-Modified-Since", Self.lastModified)], strong, .notModified, #line),
            (.GET, [("If-Modified-Since", Self.later)], strong, .notModified, #line),
            (.GET, [("If-Modified-Since", Self.earlier)], strong, .proceed, #line),
            (.HEAD, [("If-Modified-Since", Self.later)], strong, .notModified, #line),
            (.POST, [("If-Modified-Since", Self.later)], strong, .proceed, #line),
            (.GET, [("If-Modified-Since", "garbage")], strong, .proceed, #line),
            (.GET, [("If-Modified-Since", Self.later), ("If-Modified-Since", Self.later)], strong, .proceed, #line),
            (.GET, [("If-Modified-Since", Self.later)], dateOnly, .notModified, #line),  // falls back to Date
            (.GET, [("If-Modified-Since", Self.later)], [], .proceed, #line),
            // If-Match: strong comparison.
            (.GET, [("If-Match", "\"v1\"")], strong, .proceed, #line),
            (.GET, [("If-Match", "\"v2\"")], strong, .preconditionFailed, #line),
            (.GET, [("If-Match", "\"v2\", \"v1\"")], strong, .proceed, #line),
            (.GET, [("If-Match", "W/\"v1\"")], strong, .preconditionFailed, #line),
            (.GET, [("If-Match", "\"v1\"")], weak, .preconditionFailed, #line),
            (.GET, [("If-Match", "*")], weak, .proceed, #line),
            (.GET, [("If-Match", "\"v1\"")], dateOnly, .preconditionFailed, #line),
            (.GET, [("If-Match", "\"v2\""), ("If-None-Match", "\"v1\"")], strong, .preconditionFailed, #line),
            (.GET, [("If-Match", "\"v1\""), ("If-None-Match", "\"v1\"")], strong, .notModified, #line),
            // If-Unmodified-Since (only without If-Match).
            (.GET, [("If-Unmodified-Since", Self.lastModified)], strong, .proceed, #line),
            (.GET, [("If-Unmodified-Since", Self.later)], strong, .proceed, #line),
            (.GET, [("If-Unmodified-Since", Self.earlier)], strong, .preconditionFailed, #line),
            (.GET, [("If-Unmodified-Since", "nonsense")], strong, .proceed, #line),
            (.GET, [("If-Unmodified-Since", Self.earlier)], dateOnly, .proceed, #line),  // no Last-Modified: ignored
            (.GET, [("If-Match", "\"v1\""), ("If-Unmodified-Since", Self.earlier)], strong, .proceed, #line),
            (.GET, [("If-Unmodified-Since", Self.earlier), ("If-None-Match", "\"v1\"")], strong, .preconditionFailed, #line),
        ]
        for row in rows {
            let result = CachePolicy.evaluateConditional(
                method: row.method, request: cacheTestHeaders(row.request), stored: cacheTestHeaders(row.stored))
            XCTAssertEqual(result, row.expected, line: row.line)
        }
    }

    func testRanges() {
        typealias R = CachePolicy.RangeAnswer
        let stored = [("ETag", "\"v1\""), ("Last-Modified", Self.lastModified)]
        typealias Row = (method: HTTPMethod, request: [(String, String)], length: Int, stored: [(String, String)], expected: R, line: UInt)
        let rows: [Row] = [
            (.GET, [], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=0-9")], 100, stored, .partial(start: 0, end: 9), #line),
            (.GET, [("Range", "bytes=10-19")], 100, stored, .partial(start: 10, end: 19), #line),
            (.GET, [("Range", "bytes=90-")], 100, stored, .partial(start: 90, end: 99), #line),
            (.GET, [("Range", "bytes=90-500")], 100, stored, .partial(start: 90, end: 99), #line),
            (.GET, [("Range", "bytes=0-99999999999999999999999")], 100, stored, .partial(start: 0, end: 99), #line),
            (.GET, [("Range", "bytes=-10")], 100, stored, .partial(start: 90, end: 99), #line),
            (.GET, [("Range", "bytes=-500")], 100, stored, .partial(start: 0, end: 99), #line),
            (.GET, [("Range", "bytes=5-5")], 100, stored, .partial(start: 5, end: 5), #line),
            (.GET, [("Range", "BYTES = 1-2")], 100, stored, .partial(start: 1, end: 2), #line),
            (.GET, [("Range", "bytes= 1-2 ,")], 100, stored, .partial(start: 1, end: 2), #line),
            (.GET, [("Range", "bytes=0-0")], 1, stored, .partial(start: 0, end: 0), #line),
            // Unsatisfiable.
            (.GET, [("Range", "bytes=100-")], 100, stored, .unsatisfiable, #line),
            (.GET, [("Range", "bytes=100-200")], 100, stored, .unsatisfiable, #line),
            (.GET, [("Range", "bytes=99999999999999999999999-")], 100, stored, .unsatisfiable, #line),
            (.GET, [("Range", "bytes=-0")], 100, stored, .unsatisfiable, #line),
            (.GET, [("Range", "bytes=0-")], 0, stored, .unsatisfiable, #line),
            (.GET, [("Range", "bytes=-5")], 0, stored, .unsatisfiable, #line),
            // Ignored: full.
            (.HEAD, [("Range", "bytes=0-9")], 100, stored, .full, #line),
            (.POST, [("Range", "bytes=0-9")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=0-9,20-29")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=0-9"), ("Range", "bytes=20-29")], 100, stored, .full, #line),
            (.GET, [("Range", "items=0-9")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=9-0")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=a-b")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=-")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=1")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=--1")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=1-2-3")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=+1-2")], 100, stored, .full, #line),
            // If-Range.
            (.GET, [("Range", "bytes=0-9"), ("If-Range", "\"v1\"")], 100, stored, .partial(start: 0, end: 9), #line),
            (.GET, [("Range", "bytes=0-9"), ("If-Range", "\"v2\"")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=0-9"), ("If-Range", "W/\"v1\"")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=0-9"), ("If-Range", "\"v1\"")], 100, [("ETag", "W/\"v1\"")], .full, #line),
            (.GET, [("Range", "bytes=0-9"), ("If-Range", "\"v1\"")], 100, [], .full, #line),
            (.GET, [("Range", "bytes=0-9"), ("If-Range", Self.lastModified)], 100, stored, .partial(start: 0, end: 9), #line),
            (.GET, [("Range", "bytes=0-9"), ("If-Range", "Sunday, 06-Nov-94 08:49:37 GMT")], 100, stored, .partial(start: 0, end: 9), #line),
            (.GET, [("Range", "bytes=0-9"), ("If-Range", Self.later)], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=0-9"), ("If-Range", Self.earlier)], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=0-9"), ("If-Range", "garbage")], 100, stored, .full, #line),
            (.GET, [("Range", "bytes=0-9"), ("If-Range", Self.lastModified)], 100, [("ETag", "\"v1\"")], .full, #line),
            (.GET, [("Range", "bytes=500-"), ("If-Range", "\"v2\"")], 100, stored, .full, #line),
        ]
        for row in rows {
            let answer = CachePolicy.range(
                method: row.method, request: cacheTestHeaders(row.request), length: row.length, stored: cacheTestHeaders(row.stored))
            XCTAssertEqual(answer, row.expected, line: row.line)
        }
        XCTAssertNil(CachePolicy.contentRange(.full, length: 100))
        XCTAssertEqual(CachePolicy.contentRange(.partial(start: 90, end: 99), length: 100), "bytes 90-99/100")
        XCTAssertEqual(CachePolicy.contentRange(.unsatisfiable, length: 100), "bytes */100")
    }
}
