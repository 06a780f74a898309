import NIOHTTP1
import XCTest

@testable import TernProxy

/// RFC 9110 §7.6.1 as `HeaderRewriting` applies it: hop-by-hop fields out, and the fields that
/// `Connection` names; everything else kept, in order.
final class HeaderRewritingTests: XCTestCase {
    func testHopByHopFieldsAndConnectionTokensAreRemoved() {
        typealias Row = (fields: [(String, String)], kept: [(String, String)], line: UInt)
        let rows: [Row] = [
            ([("Host", "a"), ("Accept", "*/*")], [("Host", "a"), ("Accept", "*/*")], #line),
            ([("Connection", "keep-alive"), ("Content-Length", "5")], [("Content-Length", "5")], #line),
            ([("connection", "Close"), ("X-A", "1")], [("X-A", "1")], #line),
            ([("Connection", " keep-alive ,close, "), ("X-A", "1")], [("X-A", "1")], #line),
            ([("Connection", "X-Secret, keep-alive"), ("X-Secret", "s"), ("x-secret", "t"), ("X-A", "1")], [("X-A", "1")], #line),
            ([("Connection", "keep-alive"), ("Connection", "X-B"), ("X-B", "b"), ("X-C", "c")], [("X-C", "c")], #line),
            (
                [
                    ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "x"), ("TE", "trailers"), ("Trailer", "X"),
                    ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"), ("Proxy-Authenticate", "Basic"),
                    ("Proxy-Authorization", "Basic x"), ("Date", "d"),
                ], [("Date", "d")], #line
            ),
            ([("Connectionx", "a"), ("Keep-Alivex", "b"), ("Tee", "c")], [("Connectionx", "a"), ("Keep-Alivex", "b"), ("Tee", "c")], #line),
            // Same lengths as hop-by-hop names, one letter off; upper case; a non-ASCII name.
            (
                [("User-Agent", "u"), ("CONNECTION", "close"), ("Upgradf", "x"), ("KEEP-ALIVE", "1"), ("Të", "t")],
                [("User-Agent", "u"), ("Upgradf", "x"), ("Të", "t")], #line
            ),
        ]
        for row in rows {
            var headers = HTTPHeaders(row.fields)
            HeaderRewriting.removeHopByHop(&headers)
            XCTAssertEqual(headers.map { "\($0.name): \($0.value)" }, row.kept.map { "\($0.0): \($0.1)" }, line: row.line)
        }
    }

    func testConnectionTokensReadInPlace() {
        for value in ["", "close", "keep-alive", "Keep-Alive, close", " , keep-alive,\tclose ", ",,"] {
            XCTAssertTrue(HeaderRewriting.namesOnlyStandardTokens(value), value.debugDescription)
        }
        for value in ["upgrade", "keep-alive, X-Foo", "closed", "keep-alive close", "kee p-alive"] {
            XCTAssertFalse(HeaderRewriting.namesOnlyStandardTokens(value), value.debugDescription)
        }
    }

    func testForwardedFieldsReplaceWhatTheClientSent() {
        var plain = HTTPHeaders([("Host", "a")])
        HeaderRewriting.setForwarded(&plain, client: "10.0.0.1", proto: "https", host: "a")
        XCTAssertEqual(
            plain.map { "\($0.name): \($0.value)" },
            ["Host: a", "X-Forwarded-For: 10.0.0.1", "X-Forwarded-Proto: https", "X-Forwarded-Host: a"])

        var forged = HTTPHeaders([("x-forwarded-for", "6.6.6.6"), ("X-FORWARDED-PROTO", "gopher"), ("X-Forwarded-Host", "evil"), ("X-A", "1")])
        HeaderRewriting.setForwarded(&forged, client: "10.0.0.1", proto: "http", host: nil)
        XCTAssertEqual(
            forged.map { "\($0.name): \($0.value)" }, ["X-A: 1", "X-Forwarded-For: 10.0.0.1", "X-Forwarded-Proto: http"])
    }
}
