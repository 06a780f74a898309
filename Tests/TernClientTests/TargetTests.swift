import XCTest

@testable import TernClient

final class TargetTests: XCTestCase {
    func testHTTPWithDefaultPort() throws {
        let target = try Target(parsing: "http://Example.com/a/b?x=1#frag")
        XCTAssertEqual(target.origin, Origin(scheme: .http, host: "example.com", port: 80))
        XCTAssertEqual(target.requestURI, "/a/b?x=1")
        XCTAssertEqual(target.origin.hostHeader, "example.com")
    }

    func testHTTPSWithPortQueryOnlyAndUserInfo() throws {
        let target = try Target(parsing: "https://user:p%40ss@example.com:8443?q")
        XCTAssertEqual(target.origin, Origin(scheme: .https, host: "example.com", port: 8443))
        XCTAssertEqual(target.requestURI, "/?q")
        XCTAssertEqual(target.userInfo, "user:p@ss")
        XCTAssertEqual(target.origin.hostHeader, "example.com:8443")
    }

    func testIPv6Literal() throws {
        let target = try Target(parsing: "http://[::1]:8080/x")
        XCTAssertEqual(target.origin.host, "::1")
        XCTAssertEqual(target.origin.address, "[::1]:8080")
        XCTAssertEqual(target.origin.hostHeader, "[::1]:8080")
    }

    func testUnixSocket() throws {
        let target = try Target(parsing: "http+unix://%2Ftmp%2Ftern.sock/status")
        XCTAssertEqual(target.origin.scheme, .httpUnix)
        XCTAssertEqual(target.origin.host, "/tmp/tern.sock")
        XCTAssertEqual(target.requestURI, "/status")
    }

    func testBadURLsAreRefusedWithTheirReason() {
        for (url, code) in [
            ("example.com/x", TernClientError.Code.invalidURL),
            ("ftp://example.com/", .unsupportedScheme),
            ("http://example.com:99999/", .invalidURL),
            ("http://example.com:8x/", .invalidURL),
            ("http:///path", .invalidURL),
            ("http://[::1/", .invalidURL),
            ("http://exa mple.com/", .invalidURL),
            ("http://example.com/a b", .invalidURL),
        ] {
            XCTAssertThrowsError(try Target(parsing: url), url) { error in
                XCTAssertEqual((error as? TernClientError)?.code, code, url)
            }
        }
    }

    func testReferenceResolution() throws {
        let base = try Target(parsing: "http://a.example/b/c/d?q")
        XCTAssertEqual(try base.resolving("g").url, "http://a.example/b/c/g")
        XCTAssertEqual(try base.resolving("../g").url, "http://a.example/b/g")
        XCTAssertEqual(try base.resolving("/g?x").url, "http://a.example/g?x")
        XCTAssertEqual(try base.resolving("?y").url, "http://a.example/b/c/d?y")
        XCTAssertEqual(try base.resolving("//other.example/z").url, "http://other.example/z")
        XCTAssertEqual(try base.resolving("https://s.example:8443/").url, "https://s.example:8443/")
        XCTAssertEqual(try base.resolving("./").url, "http://a.example/b/c/")
    }
}
