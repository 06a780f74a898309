import NIOHTTP1
import TernTestSupport
import XCTest

@testable import TernProxy

/// Garbage and mutated header values from a fixed seed (a failure replays): the policy functions
/// must never trap and their answers must stay sane (no negative lifetimes, ages or TTLs, ranges
/// inside the body, date parsing consistent with formatting).
final class CachePolicyFuzzTests: XCTestCase {
    private typealias Generator = SeededGenerator

    private static let fragments: [String] = [
        "max-age", "s-maxage", "no-store", "no-cache", "private", "public", "must-revalidate", "proxy-revalidate",
        "immutable", "only-if-cached", "max-stale", "min-fresh", "stale-while-revalidate", "stale-if-error",
        "must-understand", "=", "==", ",", ", ", ";", "\"", "\\", " ", "\t", "0", "1", "-1", "60", "2147483648",
        "99999999999999999999999999", "bytes", "bytes=", "-", "--", "*", "W/", "\"v1\"", "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Mon", "Feb", "29", "31", "GMT", ":", "24:00:00",
        "1994", "94", "é", "\u{0}", "\u{7F}", "\r", "/", "?", "#", "..", ".", "//", "http://a.example", "https:", "@",
    ]

    private static func garbage(_ random: inout Generator) -> String {
        var text = ""
        for _ in 0..<Int.random(in: 0...8, using: &random) {
            if Int.random(in: 0..<5, using: &random) == 0 {
                let bytes = (0..<Int.random(in: 1...4, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                text += String(decoding: bytes, as: UTF8.self)
            } else {
                text += Self.fragments.randomElement(using: &random)!
            }
        }
        return text
    }

    private static let names = [
        "Cache-Control", "Pragma", "Expires", "Date", "Age", "Last-Modified", "ETag", "Vary", "Range", "If-Range",
        "If-None-Match", "If-Match", "If-Modified-Since", "If-Unmodified-Since", "Authorization", "Location",
        "Content-Location", "Accept-Encoding", "Connection", "Content-Range",
    ]

    private static func headers(_ random: inout Generator) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for _ in 0..<Int.random(in: 0...6, using: &random) {
            headers.add(name: Self.names.randomElement(using: &random)!, value: Self.garbage(&random))
        }
        return headers
    }

    func testGarbageNeverCrashesAndAnswersStaySane() {
        var random = Generator(state: 0x7E24_CAC4E)
        let t: Int64 = 1_700_000_000
        for iteration in 0..<20_000 {
            let response = Self.headers(&random)
            let request = Self.headers(&random)
            let status = [200, 203, 204, 206, 301, 302, 304, 404, 500, 999].randomElement(using: &random)!
            let context = "iteration \(iteration): response \(response) request \(request)"

            let directives = CachePolicy.ResponseDirectives(response)
            for value in [directives.maxAge, directives.sMaxAge, directives.staleWhileRevalidate, directives.staleIfError] {
                if let value { XCTAssert(value >= 0 && value <= CachePolicy.deltaSecondsCap, context) }
            }
            let requestDirectives = CachePolicy.RequestDirectives(request)
            for value in [requestDirectives.maxAge, requestDirectives.minFresh, requestDirectives.maxStale, requestDirectives.staleIfError] {
                if let value { XCTAssert(value >= 0, context) }
            }

            let requestTime = t + Int64.random(in: -100...100, using: &random)
            let now = t + Int64.random(in: -1000...1_000_000, using: &random)
            let lifetime = CachePolicy.freshnessLifetime(status: UInt(status), headers: response, responseTime: t)
            XCTAssert(lifetime >= 0, context)
            let age = CachePolicy.currentAge(headers: response, requestTime: requestTime, responseTime: t, now: now)
            XCTAssert(age >= 0, context)

            let stored = CachedResponse(status: UInt(status), headers: response, requestTime: requestTime, responseTime: t)
            let use = CachePolicy.use(stored, request: request, now: now)
            if directives.noCache || requestDirectives.noCache { XCTAssertEqual(use, .revalidate, context) }
            _ = CachePolicy.mayServeStaleOnError(stored, request: request, now: now)
            XCTAssert(CachePolicy.storeTTL(stored, revalidationGrace: Int64.random(in: -10...1000, using: &random)) >= 1, context)
            _ = CachePolicy.isStorable(method: .GET, requestHeaders: request, status: UInt(status), responseHeaders: response)

            let length = Int.random(in: 0...1000, using: &random)
            switch CachePolicy.range(method: .GET, request: request, length: length, stored: response) {
            case .partial(let start, let end): XCTAssert(start >= 0 && start <= end && end < length, context)
            case .full, .unsatisfiable: break
            }
            _ = CachePolicy.evaluateConditional(method: .GET, request: request, stored: response)
            _ = CachePolicy.validators(for: response)
            _ = CachePolicy.updatedHeaders(stored: response, notModified: request)

            if let fields = CachePolicy.varyFields(response) {
                let values = CachePolicy.varyValues(fields: fields, request: request)
                XCTAssertTrue(CachePolicy.matches(values, request: request), context)
                XCTAssertEqual(CachePolicy.secondaryKey(values).count, fields.isEmpty ? 0 : 32, context)
            }
            for target in CachePolicy.invalidationTargets(responseHeaders: response, scheme: "http", host: "a.example", requestPath: "/p/q") {
                XCTAssert(target.hasPrefix("/") && !target.contains("#"), "\(target) — \(context)")
            }

            let dateText = Self.garbage(&random)
            if let seconds = CachePolicy.parseHTTPDate(Substring(dateText)) {
                XCTAssertEqual(CachePolicy.parseHTTPDate(Substring(CachePolicy.formatHTTPDate(seconds))), seconds, dateText)
            }
            var status9211 = CachePolicy.CacheStatus()
            status9211.detail = dateText
            XCTAssertFalse(status9211.render(cacheName: "tern").unicodeScalars.contains { $0.value < 0x20 || $0.value >= 0x7F }, dateText)
        }
    }
}
