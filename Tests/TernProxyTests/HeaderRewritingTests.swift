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
        let ours = HeaderRewriting.Forwarded(client: "10.0.0.1", proto: "https", host: "a")
        let plain = HeaderRewriting.upstreamFields(HTTPHeaders([("Host", "a")]), forwarded: ours, via: nil)
        XCTAssertEqual(
            plain.map { "\($0.name): \($0.value)" },
            ["Host: a", "X-Forwarded-For: 10.0.0.1", "X-Forwarded-Proto: https", "X-Forwarded-Host: a"])

        let sent = HTTPHeaders([("x-forwarded-for", "6.6.6.6"), ("X-FORWARDED-PROTO", "gopher"), ("X-Forwarded-Host", "evil"), ("X-A", "1")])
        let forged = HeaderRewriting.upstreamFields(sent, forwarded: .init(client: "10.0.0.1", proto: "http", host: nil), via: nil)
        XCTAssertEqual(
            forged.map { "\($0.name): \($0.value)" }, ["X-A: 1", "X-Forwarded-For: 10.0.0.1", "X-Forwarded-Proto: http"])

        // `x-forwarded off`: what the client sent goes on untouched.
        let kept = HeaderRewriting.upstreamFields(sent, forwarded: nil, via: nil)
        XCTAssertEqual(kept.map { "\($0.name): \($0.value)" }, sent.map { "\($0.name): \($0.value)" })
    }

    func testViaIsExtendedOnceWithEveryHopTheClientListed() {
        let sent = HTTPHeaders([("Via", "1.0 a"), ("Accept", "*/*"), ("via", "1.1 b, 1.1 c")])
        let fields = HeaderRewriting.upstreamFields(sent, forwarded: nil, via: "1.1 tern")
        XCTAssertEqual(fields.map { "\($0.name): \($0.value)" }, ["Accept: */*", "Via: 1.0 a, 1.1 b, 1.1 c, 1.1 tern"])
        let none = HeaderRewriting.upstreamFields(HTTPHeaders([("Accept", "*/*")]), forwarded: nil, via: "1.0 tern")
        XCTAssertEqual(none.map { "\($0.name): \($0.value)" }, ["Accept: */*", "Via: 1.0 tern"])
        // A Via the client's Connection names goes no further; ours still goes.
        let named = HTTPHeaders([("Connection", "Via"), ("Via", "1.0 a")])
        XCTAssertEqual(HeaderRewriting.upstreamFields(named, forwarded: nil, via: "1.1 tern").map { "\($0.name): \($0.value)" }, ["Via: 1.1 tern"])
        // `via off`: the client's Via goes on as it came.
        XCTAssertEqual(HeaderRewriting.upstreamFields(sent, forwarded: nil, via: nil).count, 3)

        // A response's Via, extended in place, the same way.
        var response = sent
        HeaderRewriting.appendVia(&response, version: .http1_1)
        XCTAssertEqual(response.map { "\($0.name): \($0.value)" }, ["Accept: */*", "Via: 1.0 a, 1.1 b, 1.1 c, 1.1 tern"])
    }

    /// The one-pass upstream fields leave out exactly what `removeHopByHop` removes.
    func testUpstreamFieldsDropWhatRemoveHopByHopDrops() {
        let rows: [[(String, String)]] = [
            [("Host", "a"), ("Accept", "*/*")],
            [("Connection", "keep-alive"), ("Content-Length", "5")],
            [("Connection", "X-Secret, keep-alive"), ("X-Secret", "s"), ("x-secret", "t"), ("X-A", "1")],
            [("Connection", "keep-alive"), ("Connection", "x-b"), ("X-B", "b"), ("X-C", "c")],
            [
                ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "x"), ("TE", "trailers"), ("Trailer", "X"),
                ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"), ("Proxy-Authenticate", "Basic"),
                ("Proxy-Authorization", "Basic x"), ("Date", "d"),
            ],
            [("User-Agent", "u"), ("CONNECTION", "close"), ("Upgradf", "x"), ("KEEP-ALIVE", "1"), ("Të", "t")],
        ]
        for row in rows {
            var removed = HTTPHeaders(row)
            HeaderRewriting.removeHopByHop(&removed)
            let fields = HeaderRewriting.upstreamFields(HTTPHeaders(row), forwarded: nil, via: nil)
            XCTAssertEqual(fields.map { "\($0.name): \($0.value)" }, removed.map { "\($0.name): \($0.value)" }, "\(row)")
        }
    }
}
