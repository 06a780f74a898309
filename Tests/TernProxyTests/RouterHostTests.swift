import XCTest

@testable import TernProxy

/// The `Host` field as routes match it: the port dropped, IPv6 brackets kept, ASCII lowercased.
final class RouterHostTests: XCTestCase {
    func testHostWithoutPort() {
        let rows: [(String, String, UInt)] = [
            ("api.example.com", "api.example.com", #line),
            ("api.example.com:8080", "api.example.com", #line),
            ("API.Example.COM:80", "api.example.com", #line),
            ("[::1]:8443", "[::1]", #line),
            ("[::1]", "[::1]", #line),
            ("[fe80::1", "[fe80::1", #line),  // no closing bracket: kept whole
            ("127.0.0.1:9", "127.0.0.1", #line),
            ("bücher.example:81", "bücher.example", #line),
            ("Bücher.example", "bücher.example", #line),
            (":80", "", #line),
            ("", "", #line),
        ]
        for (field, host, line) in rows {
            XCTAssertEqual(String(Substring.hostWithoutPort(field)), host, field, line: line)
        }
    }
}
