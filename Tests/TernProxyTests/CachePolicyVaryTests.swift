import NIOHTTP1
import XCTest

@testable import TernProxy

final class CachePolicyVaryTests: XCTestCase {
    func testVaryFields() {
        let rows: [(headers: [(String, String)], expected: [String]?, line: UInt)] = [
            ([], [], #line),
            ([("Vary", "")], [], #line),
            ([("Vary", "Accept-Encoding")], ["accept-encoding"], #line),
            ([("Vary", "Accept-Encoding, Accept-Language")], ["accept-encoding", "accept-language"], #line),
            ([("Vary", "accept-encoding,ACCEPT-ENCODING , Origin")], ["accept-encoding", "origin"], #line),
            ([("Vary", "Origin"), ("vary", "Accept")], ["origin", "accept"], #line),
            ([("Vary", "*")], nil, #line),
            ([("Vary", "Accept, *")], nil, #line),
            ([("Vary", "Accept"), ("Vary", " * ")], nil, #line),
            ([("Vary", ",,Accept,,")], ["accept"], #line),
        ]
        for row in rows {
            XCTAssertEqual(CachePolicy.varyFields(cacheTestHeaders(row.headers)), row.expected, line: row.line)
        }
    }

    func testVaryValuesAreNormalized() {
        let rows: [(request: [(String, String)], expected: String?, line: UInt)] = [
            ([], nil, #line),
            ([("Accept-Language", "")], "", #line),
            ([("Accept-Language", "en")], "en", #line),
            ([("accept-language", "  en  ")], "en", #line),
            ([("Accept-Language", "en,  fr")], "en, fr", #line),
            ([("Accept-Language", "en ,fr")], "en, fr", #line),
            ([("Accept-Language", "en;q=1,\tfr;q=0.5")], "en;q=1, fr;q=0.5", #line),
            ([("Accept-Language", "en"), ("Accept-Language", "fr")], "en, fr", #line),
            ([("Accept-Language", "en "), ("X", "y"), ("ACCEPT-LANGUAGE", " fr")], "en, fr", #line),
            ([("Accept-Language", "a   b\t\tc")], "a b c", #line),
            ([("Other", "en")], nil, #line),
        ]
        for row in rows {
            let values = CachePolicy.varyValues(fields: ["accept-language"], request: cacheTestHeaders(row.request))
            XCTAssertEqual(values, [VaryValue(name: "accept-language", value: row.expected)], line: row.line)
        }
    }

    func testSecondaryKey() {
        XCTAssertEqual(CachePolicy.secondaryKey([]), "")
        let gzip = [VaryValue(name: "accept-encoding", value: "gzip")]
        let key = CachePolicy.secondaryKey(gzip)
        XCTAssertEqual(key.count, 32)
        XCTAssertTrue(key.allSatisfy(\.isHexDigit))
        XCTAssertEqual(key, CachePolicy.secondaryKey(gzip), "stable")
        XCTAssertEqual(key, CachePolicy.secondaryKey([VaryValue(name: "Accept-Encoding", value: "gzip")]), "names case-insensitive")
        // Every one of these must have a distinct key: absent vs empty, and boundary ambiguities.
        let distinct: [[VaryValue]] = [
            gzip,
            [VaryValue(name: "accept-encoding", value: "br")],
            [VaryValue(name: "accept-encoding", value: nil)],
            [VaryValue(name: "accept-encoding", value: "")],
            [VaryValue(name: "accept-encoding", value: "-")],
            [VaryValue(name: "a", value: "b"), VaryValue(name: "c", value: "d")],
            [VaryValue(name: "a", value: "b=1:c"), VaryValue(name: "d", value: nil)],
            [VaryValue(name: "a", value: "b, c"), VaryValue(name: "d", value: nil)],
            [VaryValue(name: "c", value: "d"), VaryValue(name: "a", value: "b")],
            [VaryValue(name: "a", value: nil), VaryValue(name: "b", value: nil)],
            [VaryValue(name: "ab", value: nil)],
        ]
        let keys = distinct.map(CachePolicy.secondaryKey)
        XCTAssertEqual(Set(keys).count, distinct.count, "\(keys)")
    }

    func testMatches() {
        let stored: [VaryValue] = [VaryValue(name: "accept-encoding", value: "gzip, br"), VaryValue(name: "origin", value: nil)]
        let rows: [(request: [(String, String)], expected: Bool, line: UInt)] = [
            ([("Accept-Encoding", "gzip, br")], true, #line),
            ([("accept-encoding", "gzip,br")], true, #line),
            ([("Accept-Encoding", " gzip ,  br ")], true, #line),
            ([("Accept-Encoding", "gzip"), ("Accept-Encoding", "br")], true, #line),
            ([("Accept-Encoding", "gzip")], false, #line),
            ([("Accept-Encoding", "br, gzip")], false, #line),  // order matters
            ([("Accept-Encoding", "GZIP, BR")], false, #line),  // values compare exactly
            ([], false, #line),  // stored had the field, request lacks it
            ([("Accept-Encoding", "gzip, br"), ("Origin", "https://a")], false, #line),  // stored lacked Origin
            ([("Accept-Encoding", "gzip, br"), ("Origin", "")], false, #line),  // empty is not absent
        ]
        for row in rows {
            XCTAssertEqual(CachePolicy.matches(stored, request: cacheTestHeaders(row.request)), row.expected, line: row.line)
        }
        XCTAssertTrue(CachePolicy.matches([], request: cacheTestHeaders([("Anything", "x")])))
        XCTAssertTrue(CachePolicy.matches([VaryValue(name: "Origin", value: "o")], request: cacheTestHeaders([("ORIGIN", "o")])))
    }

    /// Several variants of one URL: each request selects exactly the variant stored for it, never another.
    func testSeveralVariantsNeverTheWrongOne() {
        let response = cacheTestHeaders([("Vary", "Accept-Encoding, Accept-Language")])
        let fields = CachePolicy.varyFields(response)!
        let requests: [[(String, String)]] = [
            [("Accept-Encoding", "gzip"), ("Accept-Language", "en")],
            [("Accept-Encoding", "gzip"), ("Accept-Language", "fr")],
            [("Accept-Encoding", "br"), ("Accept-Language", "en")],
            [("Accept-Language", "en")],
            [("Accept-Encoding", "gzip")],
            [],
        ]
        let variants = requests.map { CachePolicy.varyValues(fields: fields, request: cacheTestHeaders($0)) }
        XCTAssertEqual(Set(variants.map(CachePolicy.secondaryKey)).count, requests.count)
        for (i, request) in requests.enumerated() {
            let matching = variants.indices.filter { CachePolicy.matches(variants[$0], request: cacheTestHeaders(request)) }
            XCTAssertEqual(matching, [i], "request \(request)")
            XCTAssertEqual(
                CachePolicy.secondaryKey(CachePolicy.varyValues(fields: fields, request: cacheTestHeaders(request))),
                CachePolicy.secondaryKey(variants[i]))
        }
    }
}
