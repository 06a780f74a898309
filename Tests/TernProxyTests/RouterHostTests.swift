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

    /// The Host field as it came: parsed only when a route names a host, and then as above.
    func testMatchFromTheHostField() {
        let pathOnly = Router<String>([(host: .any, prefix: "/", target: "any"), (host: .any, prefix: "/api/", target: "api")])
        XCTAssertEqual(pathOnly.match(hostField: "Whatever.Example:8080", path: "/api/x"), "api")
        XCTAssertEqual(pathOnly.match(hostField: nil, path: "/x"), "any")

        let byHost = Router<String>([
            (host: .any, prefix: "/", target: "any"),
            (host: .exact("api.example.com"), prefix: "/", target: "exact"),
            (host: .suffix(".example.org"), prefix: "/", target: "suffix"),
        ])
        XCTAssertEqual(byHost.match(hostField: "API.Example.COM:8080", path: "/"), "exact")
        XCTAssertEqual(byHost.match(hostField: "www.example.org:81", path: "/"), "suffix")
        XCTAssertEqual(byHost.match(hostField: "other.example", path: "/"), "any")
        XCTAssertEqual(byHost.match(hostField: nil, path: "/"), "any")
    }
}
