import Foundation
import NIOCore
import TernClient
import TernTestSupport
import XCTest

@testable import TernProxy

/// The admin listener: `/metrics` in Prometheus text, `/status` from its template, and 403 for
/// clients outside `admin-allow`. The metrics registry is process-wide, so each test uses route
/// and upstream names of its own and compares counts, never totals across tests.
final class ProxyAdminTests: ProxyTestCase {
    func testMetricsCountRequestsByRouteAndStatusAndShowUpstreamLatencyAndPools() async throws {
        let a = try await self.origin("a")
        let (server, port) = try await self.proxy(
            """
            admin tcp:0:interface=127.0.0.1
            upstream metrics-app { server 127.0.0.1:\(a.port) }
            route /metrics-test/ { proxy metrics-app }
            route /metrics-fixed { respond 503 "down for tests" }
            """
        )
        let adminPort = try XCTUnwrap(server.adminAddress?.port)
        for _ in 0..<3 {
            let (status, _, _) = try await self.get(port, "/metrics-test/hello")
            XCTAssertEqual(status, 200)
        }
        let (fixed, _, _) = try await self.get(port, "/metrics-fixed")
        XCTAssertEqual(fixed, 503)

        let (status, text, response) = try await self.get(adminPort, "/metrics")
        XCTAssertEqual(status, 200)
        XCTAssertTrue(response.headerFields[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
        XCTAssertTrue(text.contains(#"tern_proxy_requests_total{route="/metrics-test/",status="2xx"} 3"#), text)
        XCTAssertTrue(text.contains(#"tern_proxy_requests_total{route="/metrics-fixed",status="5xx"} 1"#), text)
        XCTAssertTrue(text.contains(#"tern_proxy_upstream_response_seconds_count{upstream="metrics-app"} 3"#), text)
        // The agent's pool figures, through swift-metrics and the Prometheus factory.
        XCTAssertTrue(text.contains(#"tern_client_connections_opened_total{origin="http://127.0.0.1:\#(a.port)"}"#), text)

        // A request no route matches, on the connection the routed ones came on (the handler keeps
        // an exchange's route for the next): counted under no route, not the last one's.
        func count(_ text: String, _ series: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(series + " ") }) else { return 0 }
            return Int(line.split(separator: " ").last ?? "") ?? 0
        }
        let unrouted = #"tern_proxy_requests_total{route="none",status="4xx"}"#
        let before = count(text, unrouted)
        let (missing, _, _) = try await self.get(port, "/no-such-route")
        XCTAssertEqual(missing, 404)
        let (_, after, _) = try await self.get(adminPort, "/metrics")
        XCTAssertEqual(count(after, unrouted), before + 1, after)
        XCTAssertTrue(after.contains(#"tern_proxy_requests_total{route="/metrics-fixed",status="5xx"} 1"#), after)
        XCTAssertEqual(count(after, #"tern_proxy_requests_total{route="/metrics-fixed",status="4xx"}"#), 0, after)
    }

    func testCacheCountersInMetrics() async throws {
        let origin = try await self.origin("c")
        let (server, port) = try await self.proxy(
            """
            admin tcp:0:interface=127.0.0.1
            cache memory 16m
            route / { proxy http://127.0.0.1:\(origin.port) }
            """
        )
        let adminPort = try XCTUnwrap(server.adminAddress?.port)
        for _ in 0..<2 { _ = try await self.get(port, "/c/metrics?h=Cache-Control:max-age%3D60") }
        let (_, text, _) = try await self.get(adminPort, "/metrics")
        for line in [#"tern_cache_requests_total{result="hit"}"#, #"tern_cache_requests_total{result="miss"}"#, "tern_cache_stores_total"] {
            XCTAssertTrue(text.contains(line), "\(line) in\n\(text)")
        }
    }

    func testStatusPageListsListenersRoutesAndServers() async throws {
        let a = try await self.origin("a")
        let dead = try self.deadPort()
        let (server, port) = try await self.proxy(
            """
            admin tcp:0:interface=127.0.0.1
            upstream status-app {
                server 127.0.0.1:\(a.port) weight=3
                server 127.0.0.1:\(dead) max-fails=1 fail-timeout=60s
            }
            route /status-test/ { proxy status-app }
            """
        )
        // Smooth weighted round robin sends the third of four requests to the dead server, which is then down.
        for _ in 0..<4 { _ = try await self.get(port, "/status-test/x") }
        let adminPort = try XCTUnwrap(server.adminAddress?.port)
        let (status, html, _) = try await self.get(adminPort, "/status")
        XCTAssertEqual(status, 200)
        XCTAssertTrue(html.contains("<h1>tern proxy</h1>"), html)
        XCTAssertTrue(html.contains("tcp:0:interface=127.0.0.1"), html)
        XCTAssertTrue(html.contains("<td>/status-test/</td><td>proxy status-app</td>"), html)
        XCTAssertTrue(html.contains("<td>http://127.0.0.1:\(a.port)</td><td>3</td><td class=\"up\">up</td><td>0</td>"), html)
        XCTAssertTrue(html.contains("<td>http://127.0.0.1:\(dead)</td><td>1</td><td class=\"down\">down</td>"), html)
        let (missing, _, _) = try await self.get(adminPort, "/nothing")
        XCTAssertEqual(missing, 404)
    }

    func testAddressesOutsideTheAllowListGetForbidden() async throws {
        let (server, _) = try await self.proxy(
            """
            admin tcp:0:interface=127.0.0.1
            admin-allow 10.1.2.0/24 fd00::/8
            route / { respond 200 }
            """
        )
        let adminPort = try XCTUnwrap(server.adminAddress?.port)
        let (status, body, _) = try await self.get(adminPort, "/metrics")
        XCTAssertEqual(status, 403)
        XCTAssertFalse(body.contains("tern_"), body)
    }

    func testNoAdminListenerUnlessConfigured() async throws {
        let (server, _) = try await self.proxy("route / { respond 200 }")
        XCTAssertNil(server.adminAddress)
    }

    func testAddressRanges() throws {
        let network = try XCTUnwrap(AddressRange(parsing: "10.0.0.0/8"))
        XCTAssertTrue(network.contains(try SocketAddress(ipAddress: "10.200.3.4", port: 1)))
        XCTAssertFalse(network.contains(try SocketAddress(ipAddress: "11.0.0.1", port: 1)))
        XCTAssertTrue(network.contains(try SocketAddress(ipAddress: "::ffff:10.0.0.1", port: 1)), "IPv4-mapped IPv6")
        let loopback6 = try XCTUnwrap(AddressRange(parsing: "::1"))
        XCTAssertTrue(loopback6.contains(try SocketAddress(ipAddress: "::1", port: 1)))
        XCTAssertFalse(loopback6.contains(try SocketAddress(ipAddress: "::2", port: 1)))
        XCTAssertEqual(AddressRange(parsing: "192.168.1.77/24")?.description, "192.168.1.0/24")
        XCTAssertEqual(AddressRange(parsing: "fd00::1/8")?.description, "fd00::/8")
        XCTAssertNil(AddressRange(parsing: "10.0.0.0/33"))
        XCTAssertNil(AddressRange(parsing: "10.0.0.0/"))
        XCTAssertNil(AddressRange(parsing: "example.com"))
    }
}
