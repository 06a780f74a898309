import NIOCore
import NIOHTTP1
import XCTest

@testable import TernProxy

/// The figures a stored response carries so that a hit parses nothing: they must equal what the
/// full computation gives, follow every change of the fields they come from, and the request
/// traits must see every field that changes a cache's answer.
final class CachePolicyPrecomputedTests: XCTestCase {
    static let t: Int64 = 1_000_000_000

    func testFreshnessEqualsTheFullComputationAndFollowsChanges() {
        let headers = HTTPHeaders([
            ("Date", CachePolicy.formatHTTPDate(Self.t - 10)), ("Age", "5"), ("Cache-Control", "max-age=60, stale-while-revalidate=30"),
        ])
        var stored = CachedResponse(status: 200, headers: headers, requestTime: Self.t - 2, responseTime: Self.t)
        for now in [Self.t, Self.t + 1, Self.t + 45, Self.t + 500] {
            XCTAssertEqual(
                stored.freshness.age(now: now),
                CachePolicy.currentAge(headers: headers, requestTime: Self.t - 2, responseTime: Self.t, now: now))
        }
        XCTAssertEqual(stored.freshness.initialAge, 10, "apparent age 10 beats Age 5 + 2 s of delay")
        XCTAssertEqual(stored.freshness.lifetime, 60)
        XCTAssertEqual(stored.freshness.directives.staleWhileRevalidate, 30)
        XCTAssertEqual(CachePolicy.use(stored, request: HTTPHeaders(), now: Self.t + 49), .fresh)
        XCTAssertEqual(CachePolicy.use(stored, request: HTTPHeaders(), now: Self.t + 51), .staleWhileRevalidate)

        // A 304 merges new fields and times in: the figures follow.
        stored.headers = HTTPHeaders([("Date", CachePolicy.formatHTTPDate(Self.t + 100)), ("Cache-Control", "max-age=5, must-revalidate")])
        stored.requestTime = Self.t + 100
        stored.responseTime = Self.t + 100
        XCTAssertEqual(stored.freshness.lifetime, 5)
        XCTAssertEqual(stored.freshness.initialAge, 0)
        XCTAssertTrue(stored.freshness.directives.mustRevalidate)
        XCTAssertEqual(CachePolicy.use(stored, request: HTTPHeaders(), now: Self.t + 104), .fresh)
        XCTAssertEqual(CachePolicy.use(stored, request: HTTPHeaders(), now: Self.t + 106), .revalidate)
        stored.status = 302
        stored.headers = [:]
        XCTAssertEqual(stored.freshness.lifetime, 0, "no heuristic freshness for a 302")
    }

    /// A stored response is a value though its fields live in one shared reference: a change to a
    /// copy (as a store makes to what it returns) leaves the original, its figures and its kept
    /// lines as they were, and a change of the fields drops the copy's lines.
    func testACopyChangesAloneAndItsLinesFollowItsFields() {
        var original = CachedResponse(
            status: 200, headers: HTTPHeaders([("Cache-Control", "max-age=60"), ("ETag", "\"a\"")]), requestTime: Self.t, responseTime: Self.t)
        original.keepHeadLines()
        XCTAssertEqual(original.headLines.map { String(buffer: $0.bytes) }, "Cache-Control: max-age=60\r\nETag: \"a\"\r\n")
        var copy = original
        copy.generation = "g2"
        copy.bodyLength = 7
        copy.headers = HTTPHeaders([("Cache-Control", "max-age=5"), ("Age", "1")])
        XCTAssertEqual(original.generation, "")
        XCTAssertEqual(original.bodyLength, 0)
        XCTAssertEqual(original.freshness.lifetime, 60)
        XCTAssertFalse(original.has.age)
        XCTAssertNotNil(original.headLines)
        XCTAssertEqual(copy.freshness.lifetime, 5)
        XCTAssertTrue(copy.has.age)
        XCTAssertNil(copy.headLines, "lines of fields it no longer has")
        var third = copy
        third.status = 404
        XCTAssertEqual(copy.status, 200)
        XCTAssertEqual(third.status, 404)
        // Kept in the form the writer copies whole: values trimmed, no Transfer-Encoding.
        var odd = CachedResponse(
            status: 200, headers: HTTPHeaders([("X-Pad", " v \t"), ("Transfer-Encoding", "chunked"), ("X-Empty", "")]),
            requestTime: Self.t, responseTime: Self.t)
        odd.keepHeadLines()
        XCTAssertEqual(odd.headLines.map { String(buffer: $0.bytes) }, "X-Pad: v\r\nX-Empty: \r\n")
    }

    func testRequestTraits() {
        typealias Row = (fields: [(String, String)], directives: Bool, conditional: Bool, range: Bool, line: UInt)
        let rows: [Row] = [
            ([], false, false, false, #line),
            ([("Host", "x"), ("Accept", "*/*"), ("User-Agent", "wrk")], false, false, false, #line),
            ([("Cache-Control", "no-cache")], true, false, false, #line),
            ([("cache-control", "max-age=0")], true, false, false, #line),
            ([("Pragma", "no-cache")], true, false, false, #line),
            ([("If-None-Match", "\"a\"")], false, true, false, #line),
            ([("IF-MODIFIED-SINCE", "x")], false, true, false, #line),
            ([("If-Match", "*")], false, true, false, #line),
            ([("If-Unmodified-Since", "x")], false, true, false, #line),
            ([("Range", "bytes=0-1")], false, false, true, #line),
            ([("If-Range", "\"a\"")], false, false, false, #line),
            ([("Ranges", "x"), ("Pragmas", "x"), ("If-None-Matches", "x")], false, false, false, #line),
            ([("Range", "bytes=0-1"), ("If-None-Match", "*"), ("Pragma", "x")], true, true, true, #line),
        ]
        for row in rows {
            let traits = CachePolicy.RequestTraits(HTTPHeaders(row.fields))
            XCTAssertEqual(traits.hasCacheDirectives, row.directives, "directives", line: row.line)
            XCTAssertEqual(traits.hasConditional, row.conditional, "conditional", line: row.line)
            XCTAssertEqual(traits.hasRange, row.range, "range", line: row.line)
        }
        // With traits that say "no directives", `use` gives what a full parse of such a request gives.
        let stored = CachedResponse(status: 200, headers: ["Cache-Control": "max-age=60"], requestTime: Self.t, responseTime: Self.t)
        let plain: HTTPHeaders = ["Accept": "*/*"]
        XCTAssertEqual(
            CachePolicy.use(stored, request: plain, traits: CachePolicy.RequestTraits(plain), now: Self.t + 10),
            CachePolicy.use(stored, request: plain, now: Self.t + 10))
        let noCache: HTTPHeaders = ["Cache-Control": "no-cache"]
        XCTAssertEqual(CachePolicy.use(stored, request: noCache, traits: CachePolicy.RequestTraits(noCache), now: Self.t + 10), .revalidate)
    }
}
