import NIOCore
import XCTest

@testable import TernProxy

/// `allow` in a listen block: the listener serves only those client addresses (for admin,
/// metrics and purge endpoints); others get 403 and a close.
final class HardeningAccessTests: ProxyTestCase {
    func testListenerServesOnlyAllowedAddresses() async throws {
        let origin = try await self.origin("a")
        let route = "route / { proxy http://127.0.0.1:\(origin.port) }"
        let (_, closed) = try await self.proxy(route, listen: "listen tcp:0:interface=127.0.0.1 { allow 10.0.0.0/8 ::1 }")
        let connection = try RawConnection(port: closed)
        connection.send("GET /admin HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(connection.readResponses(1).first?.status, 403, connection.text)
        XCTAssertTrue(connection.isClosed())
        XCTAssertEqual(origin.requests, 0)

        let (_, open) = try await self.proxy(route, listen: "listen tcp:0:interface=127.0.0.1 { allow 10.0.0.0/8\nallow 127.0.0.0/8 }")
        let (status, _, _) = try await self.get(open, "/admin")
        XCTAssertEqual(status, 200)
    }

    func testRangesMatchByPrefix() throws {
        let list = ["127.0.0.1", "10.1.0.0/16", "fd00::/8", "::1"].map { AddressRange(parsing: $0)! }
        func allows(_ ip: String) throws -> Bool { list.allows(try SocketAddress(ipAddress: ip, port: 1)) }
        XCTAssertTrue(try allows("127.0.0.1"))
        XCTAssertFalse(try allows("127.0.0.2"))
        XCTAssertTrue(try allows("10.1.255.3"))
        XCTAssertFalse(try allows("10.2.0.1"))
        XCTAssertTrue(try allows("fd12::5"))
        XCTAssertFalse(try allows("fe80::1"))
        XCTAssertTrue(try allows("::1"))
        XCTAssertTrue(try allows("::ffff:127.0.0.1"), "an IPv4 client on a dual-stack socket")
        for bad in ["10.0.0.0/33", "10.0.0", "x", "::1/129", "10.0.0.0/-1", ""] {
            XCTAssertNil(AddressRange(parsing: bad), bad)
        }
        XCTAssertThrowsError(
            try ProxyConfiguration.parse("listen tcp:1 { allow 10.0.0.0/40 }\nroute / { respond 200 }", file: "t.conf", baseDirectory: "/")
        ) { error in
            XCTAssertTrue("\(error)".contains("t.conf:1:22: expected an IP address or range like 10.0.0.0/8, got '10.0.0.0/40'"), "\(error)")
        }
    }
}
