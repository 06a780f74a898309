import XCTest

@testable import TernProxy

final class CachePolicyDateTests: XCTestCase {
    /// 784111777 is Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110 §5.6.7.
    func testParsesTheThreeFormsAndRejectsGarbage() {
        let rows: [(text: String, expected: Int64?, line: UInt)] = [
            ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777, #line),
            ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777, #line),
            ("Sun Nov  6 08:49:37 1994", 784_111_777, #line),
            ("Sun Nov 6 08:49:37 1994", 784_111_777, #line),
            ("  sun, 06 nov 1994 08:49:37 gmt  ", 784_111_777, #line),
            ("Sun, 6 Nov 1994 08:49:37 GMT", 784_111_777, #line),
            ("Thu, 01 Jan 1970 00:00:00 GMT", 0, #line),
            ("Wed, 31 Dec 1969 23:59:59 GMT", -1, #line),
            ("Tue, 29 Feb 2000 12:00:00 GMT", 951_825_600, #line),
            ("Fri, 31 Dec 9999 23:59:59 GMT", 253_402_300_799, #line),
            ("Sat, 01 Jan 2000 00:00:00 UTC", 946_684_800, #line),
            ("Saturday, 01-Jan-00 00:00:00 GMT", 946_684_800, #line),
            ("Friday, 01-Jan-71 00:00:00 GMT", 31_536_000, #line),
            ("Thu, 01 Jan 1970 00:00:60 GMT", 60, #line),
            ("", nil, #line),
            ("garbage", nil, #line),
            ("0", nil, #line),
            ("Sun, 06 Nov 1994 08:49:37", nil, #line),
            ("Sun, 06 Nov 1994 08:49:37 PST", nil, #line),
            ("Sun, 06 Nov 1994 08:49:37 GMT extra", nil, #line),
            ("Sun, 06 Foo 1994 08:49:37 GMT", nil, #line),
            ("Sun, 32 Nov 1994 08:49:37 GMT", nil, #line),
            ("Sun, 00 Nov 1994 08:49:37 GMT", nil, #line),
            ("Mon, 29 Feb 1900 00:00:00 GMT", nil, #line),
            ("Sun, 31 Apr 1994 00:00:00 GMT", nil, #line),
            ("Sun, 06 Nov 1994 24:00:00 GMT", nil, #line),
            ("Sun, 06 Nov 1994 08:60:00 GMT", nil, #line),
            ("Sun, 06 Nov 1994 8:49:37 GMT", nil, #line),
            ("Sun, 06 Nov 994 08:49:37 GMT", nil, #line),
            ("Sun, 06 Nov 19945 08:49:37 GMT", nil, #line),
            ("Sun, 006 Nov 1994 08:49:37 GMT", nil, #line),
            ("Sun Nov  6 08:49:37 94", nil, #line),
            ("Sun Nov  6 08:49:37 1994 GMT", nil, #line),
            ("Sun, 06 Nov 1994 08:49:37 GM", nil, #line),
            ("Sun, 06-Nov-1994 08:49:37 GMT", 784_111_777, #line),
            ("1994-11-06T08:49:37Z", nil, #line),
            ("Sun, 06 Nov 1994 08:49:37 GMT\u{0}", nil, #line),
            ("Sün, 06 Nov 1994 08:49:37 GMT", nil, #line),
        ]
        for row in rows {
            XCTAssertEqual(CachePolicy.parseHTTPDate(Substring(row.text)), row.expected, row.text, line: row.line)
        }
    }

    func testFormatsIMFFixdate() {
        let rows: [(seconds: Int64, text: String, line: UInt)] = [
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT", #line),
            (0, "Thu, 01 Jan 1970 00:00:00 GMT", #line),
            (-1, "Wed, 31 Dec 1969 23:59:59 GMT", #line),
            (951_825_600, "Tue, 29 Feb 2000 12:00:00 GMT", #line),
            (1_764_028_800, "Tue, 25 Nov 2025 00:00:00 GMT", #line),
            (Int64.max, "Fri, 31 Dec 9999 23:59:59 GMT", #line),
            (Int64.min, "Sat, 01 Jan 0000 00:00:00 GMT", #line),
        ]
        for row in rows {
            XCTAssertEqual(CachePolicy.formatHTTPDate(row.seconds), row.text, line: row.line)
        }
    }

    func testFormatThenParseIsTheIdentity() {
        var seconds: Int64 = -2_000_000_000
        while seconds < 60_000_000_000 {
            let text = CachePolicy.formatHTTPDate(seconds)
            XCTAssertEqual(CachePolicy.parseHTTPDate(Substring(text)), seconds, text)
            seconds += 86_399 * 37 + 13
        }
    }
}
