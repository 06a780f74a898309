import HTTPTypes
import XCTest

@testable import TernClient

/// RFC 9110 §15.4: which method and body a redirect keeps.
final class RedirectRuleTests: XCTestCase {
    let here = try! Target(parsing: "http://a.example/start")

    private func next(_ status: Int, _ method: HTTPRequest.Method, to location: String = "/next", replayable: Bool = true)
        throws -> RedirectRule.Next?
    {
        guard case .follow(let next) = try RedirectRule.decide(
            status: status, location: location, method: method, from: self.here, bodyIsReplayable: replayable)
        else { return nil }
        return next
    }

    func testMethodRules() throws {
        let table: [(Int, HTTPRequest.Method, HTTPRequest.Method)] = [
            (301, .post, .get), (302, .post, .get), (301, .put, .put), (302, .get, .get),
            (303, .post, .get), (303, .put, .get), (303, .delete, .get), (303, .head, .head),
            (307, .post, .post), (308, .post, .post), (307, .put, .put),
        ]
        for (status, method, expected) in table {
            let next = try XCTUnwrap(try self.next(status, method), "\(status) \(method)")
            XCTAssertEqual(next.method, expected, "\(status) \(method)")
            XCTAssertEqual(next.dropsBody, expected != method, "\(status) \(method)")
        }
    }

    func testNotFollowed() throws {
        for status in [200, 300, 304, 305, 404] { XCTAssertNil(try self.next(status, .get), "\(status)") }
        XCTAssertEqual(
            try RedirectRule.decide(status: 302, location: nil, method: .get, from: self.here, bodyIsReplayable: true),
            .deliver
        )
        // 307 must resend the body, which a consumed stream cannot.
        XCTAssertNil(try self.next(307, .post, replayable: false))
        XCTAssertNotNil(try self.next(303, .post, replayable: false))
    }

    func testOriginChangeIsReported() throws {
        XCTAssertEqual(try self.next(302, .get, to: "/same")?.crossesOrigin, false)
        XCTAssertEqual(try self.next(302, .get, to: "http://b.example/")?.crossesOrigin, true)
        XCTAssertEqual(try self.next(302, .get, to: "https://a.example/")?.crossesOrigin, true)
        XCTAssertEqual(try self.next(302, .get, to: "http://a.example:81/")?.crossesOrigin, true)
    }

    func testBadLocationIsAnError() {
        XCTAssertThrowsError(try self.next(302, .get, to: "gopher://x/")) { error in
            XCTAssertEqual((error as? TernClientError)?.phase, .redirect)
        }
    }
}
