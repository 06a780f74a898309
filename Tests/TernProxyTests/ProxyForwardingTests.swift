import Foundation
import NIOCore
import TernClient
import TernTestSupport
import XCTest

@testable import TernProxy

final class ProxyForwardingTests: ProxyTestCase {
    func testRoutesByHostThenLongestPrefix() async throws {
        let a = try await self.origin("a")
        let b = try await self.origin("b")
        let c = try await self.origin("c")
        let (_, port) = try await self.proxy(
            """
            route api.example.com/v1/ { proxy http://127.0.0.1:\(a.port) }
            route *.example.com/ { proxy http://127.0.0.1:\(b.port) }
            route /static/ { proxy http://127.0.0.1:\(c.port) }
            route /healthz { respond 200 "ok" }
            """
        )
        func who(_ host: String, _ path: String) async throws -> String {
            let (status, body, _) = try await self.get(port, path, host: host)
            return status == 200 ? String(body.prefix(while: { $0 != " " })) : "\(status)"
        }
        try await assertEqualAsync(await who("api.example.com", "/v1/users"), "a")
        try await assertEqualAsync(await who("API.Example.com:8080", "/v1/x"), "a")
        try await assertEqualAsync(await who("api.example.com", "/v2/x"), "b")  // same host, no /v2/ route: wildcard
        try await assertEqualAsync(await who("www.example.com", "/v1/x"), "b")
        try await assertEqualAsync(await who("other.test", "/static/app.js"), "c")
        try await assertEqualAsync(await who("other.test", "/healthz"), "ok")
        try await assertEqualAsync(await who("other.test", "/nothing"), "404")
    }

    func testRequestAndResponseHeaderRules() async throws {
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy(
            """
            upstream app { server 127.0.0.1:\(a.port) }
            route /api/ {
                proxy app
                strip-prefix /api
                request-header set X-Env prod
                request-header remove X-Debug
                response-header set X-Served-By tern
                host-header upstream
            }
            """
        )
        let (status, body, response) = try await self.get(
            port, "/api/users?id=1", host: "shop.example",
            headers: [("X-Forwarded-For", "6.6.6.6"), ("X-Debug", "1"), ("Connection", "X-Secret"), ("X-Secret", "s"), ("Proxy-Authorization", "p")]
        )
        XCTAssertEqual(status, 200)
        let lines = Set(body.split(separator: "\n").map(String.init))
        XCTAssertTrue(body.hasPrefix("a GET /users?id=1\n"), body)
        XCTAssertTrue(lines.contains("x-forwarded-for: 127.0.0.1"), "client-sent X-Forwarded-For is replaced: \(body)")
        XCTAssertTrue(lines.contains("x-forwarded-proto: http"))
        XCTAssertTrue(lines.contains("x-forwarded-host: shop.example"))
        XCTAssertTrue(lines.contains("via: 1.1 tern"))
        XCTAssertTrue(lines.contains("x-env: prod"))
        XCTAssertTrue(lines.contains("host: 127.0.0.1:\(a.port)"))
        for hidden in ["x-debug", "x-secret", "proxy-authorization", "connection"] {
            XCTAssertFalse(lines.contains { $0.hasPrefix(hidden + ":") }, "\(hidden) must not reach the upstream: \(body)")
        }
        // The origin named X-Hop in Connection: a hop-by-hop field that must not reach the client.
        XCTAssertNil(response.headerFields[.init("X-Hop")!])
        XCTAssertEqual(response.headerFields[.init("X-Served-By")!], "tern")
        XCTAssertEqual(response.headerFields[.init("Via")!], "1.1 tern")
    }

    /// The fields we add to a head whose client lines go on as they came are kept for the
    /// connection's next exchange: on one keep-alive connection, each request still gets the
    /// `X-Forwarded-Host` of its own `Host`, and a request naming no `Host` gets none.
    func testEachRequestOnAConnectionGetsItsOwnForwardedHost() async throws {
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(a.port) }")
        let requests = [
            "GET /1 HTTP/1.1\r\nHost: one.test\r\n\r\n",
            "GET /2 HTTP/1.1\r\nHost: one.test\r\nX-A: 1\r\n\r\n",
            "GET /3 HTTP/1.1\r\nHost: two.test\r\n\r\n",
            "GET /4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            "GET /5 HTTP/1.1\r\nHost: one.test\r\n\r\n",
        ]
        let bodies = try sequentialExchanges(port: port, requests)
        XCTAssertEqual(bodies.count, 5)
        func fields(_ body: String) -> Set<String> { Set(body.split(separator: "\n").map(String.init)) }
        for (index, host) in [(0, "one.test"), (1, "one.test"), (2, "two.test"), (4, "one.test")] {
            XCTAssertTrue(fields(bodies[index]).contains("x-forwarded-host: \(host)"), bodies[index])
            XCTAssertTrue(fields(bodies[index]).contains("via: 1.1 tern"), bodies[index])
            XCTAssertEqual(fields(bodies[index]).filter { $0.hasPrefix("x-forwarded-host:") }.count, 1, bodies[index])
        }
        XCTAssertFalse(bodies[3].contains("x-forwarded-host:"), "no Host, no X-Forwarded-Host: \(bodies[3])")
        XCTAssertTrue(fields(bodies[3]).contains("via: 1.0 tern"), "an HTTP/1.0 request's hop: \(bodies[3])")
        XCTAssertTrue(fields(bodies[1]).contains("x-a: 1"))
        XCTAssertFalse(bodies[2].contains("x-a:"), "fields of an earlier request stay with it: \(bodies[2])")
    }

    func testRoundRobinFollowsWeights() async throws {
        let a = try await self.origin("a")
        let b = try await self.origin("b")
        let (_, port) = try await self.proxy(
            "upstream app {\n server 127.0.0.1:\(a.port) weight=2\n server 127.0.0.1:\(b.port)\n}\nroute / { proxy app }"
        )
        var seen: [String: Int] = [:]
        for _ in 0..<30 {
            let (_, body, _) = try await self.get(port, "/")
            seen[String(body.prefix(1)), default: 0] += 1
        }
        XCTAssertEqual(seen, ["a": 20, "b": 10])
    }

    func testLeastConnectionsAvoidsTheBusyServer() async throws {
        let a = try await self.origin("a")
        let b = try await self.origin("b")
        let (_, port) = try await self.proxy(
            "upstream app {\n server 127.0.0.1:\(a.port)\n server 127.0.0.1:\(b.port)\n balance least-conn\n}\nroute / { proxy app }"
        )
        // Hold one request open on whichever server gets it first.
        let client = self.client
        let stuck = Task { try await client.execute(Request(url: "http://127.0.0.1:\(port)/never"), timeout: .seconds(30)) }
        try await waitFor { a.requests + b.requests == 1 }
        let busy = a.requests == 1 ? "a" : "b"
        for _ in 0..<6 {
            let (_, body, _) = try await self.get(port, "/")
            XCTAssertNotEqual(String(body.prefix(1)), busy)
        }
        stuck.cancel()
    }

    func testHashOnHeaderIsSticky() async throws {
        let a = try await self.origin("a")
        let b = try await self.origin("b")
        let (_, port) = try await self.proxy(
            "upstream app {\n server 127.0.0.1:\(a.port)\n server 127.0.0.1:\(b.port)\n balance hash header X-User\n}\nroute / { proxy app }"
        )
        var chosen: [String: Set<String>] = [:]
        for round in 0..<4 {
            for user in 0..<10 {
                let (_, body, _) = try await self.get(port, "/\(round)", headers: [("X-User", "user-\(user)")])
                chosen["user-\(user)", default: []].insert(String(body.prefix(1)))
            }
        }
        XCTAssertTrue(chosen.values.allSatisfy { $0.count == 1 }, "each user always reaches one server: \(chosen)")
        XCTAssertEqual(Set(chosen.values.flatMap { $0 }), ["a", "b"], "users spread over both servers")
    }

    func testFailoverThenPassiveHealthThenNoUpstream() async throws {
        let a = try await self.origin("a")
        let dead = try self.deadPort()
        let (_, port) = try await self.proxy(
            """
            upstream app {
                server 127.0.0.1:\(dead) max-fails=1 fail-timeout=30s
                server 127.0.0.1:\(a.port)
            }
            route / { proxy app }
            upstream gone {
                server 127.0.0.1:\(dead)
                server 127.0.0.1:\(try self.deadPort())
            }
            route /only-dead/ { proxy gone }
            """
        )
        for _ in 0..<4 {
            let (status, body, _) = try await self.get(port, "/")
            XCTAssertEqual(status, 200)
            XCTAssertTrue(body.hasPrefix("a "))
        }
        let (status, body, response) = try await self.get(port, "/only-dead/x")
        XCTAssertEqual(status, 502)
        XCTAssertTrue(body.contains("502 Bad Gateway"), "the page comes from the shipped template")
        XCTAssertEqual(response.headerFields[.contentType], "text/html; charset=utf-8")
        // Both servers of `gone` are now marked down (max-fails=1 by default): 503, no attempt.
        let (again, _, _) = try await self.get(port, "/only-dead/x")
        XCTAssertEqual(again, 503)
    }

    func testActiveHealthCheckTakesAFailingServerOut() async throws {
        let a = try await self.origin("a")
        let b = try await self.origin("b", healthy: false)
        let (_, port) = try await self.proxy(
            """
            upstream app {
                server 127.0.0.1:\(a.port) max-fails=0
                server 127.0.0.1:\(b.port) max-fails=0
                health-check path=/health interval=50ms fails=2
            }
            route / { proxy app }
            """
        )
        // b answers its health check 503: after two checks it is out, and every request goes to a.
        try await Task.sleep(for: .milliseconds(400))
        for _ in 0..<8 {
            let (_, body, _) = try await self.get(port, "/")
            XCTAssertTrue(body.hasPrefix("a "), body)
        }
    }

    func testChunkedBodyOverTheLimitGetsOne413() async throws {
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy("route / {\n proxy http://127.0.0.1:\(a.port)\n max-body 100k\n}")
        let chunk = ByteBuffer(repeating: UInt8(ascii: "z"), count: 16 * 1024)
        let body = AsyncStream<ByteBuffer> { continuation in
            for _ in 0..<20 { continuation.yield(chunk) }
            continuation.finish()
        }
        var response: Response?
        do {
            response = try await self.client.execute(
                Request(method: .post, url: "http://127.0.0.1:\(port)/sink", body: .stream(body, length: nil))
            )
        } catch {
            // The proxy may close while the rest of the body is still being sent; that is allowed.
        }
        if let response { XCTAssertEqual(response.status.code, 413) }
        let (status, _, _) = try await self.get(port, "/after")
        XCTAssertEqual(status, 200, "one answer only: the proxy and a new connection are fine")
    }

    func testUpstreamReadTimeoutIsGatewayTimeout() async throws {
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy("route / {\n proxy http://127.0.0.1:\(a.port)\n timeout read 300ms\n}")
        let (status, body, _) = try await self.get(port, "/never")
        XCTAssertEqual(status, 504)
        XCTAssertTrue(body.contains("504 Gateway Timeout"))
        let (after, _, _) = try await self.get(port, "/fine")
        XCTAssertEqual(after, 200, "the connection and the proxy stay usable")
    }

    func testBodyOverTheRouteLimitIs413() async throws {
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy("route / {\n proxy http://127.0.0.1:\(a.port)\n max-body 1k\n}")
        let small = try await self.client.execute(Request(method: .post, url: "http://127.0.0.1:\(port)/sink", body: .string(String(repeating: "y", count: 1000))))
        try await assertEqualAsync(await small.string(), "1000")
        let large = try await self.client.execute(Request(method: .post, url: "http://127.0.0.1:\(port)/sink", body: .string(String(repeating: "y", count: 5000))))
        XCTAssertEqual(large.status.code, 413)
        XCTAssertEqual(a.requests, 1, "the oversized body never reached the origin")
    }

    /// A response head is passed on without being copied when leaving out the hop-by-hop fields
    /// is all it needs; a `Connection` naming other fields, or a `Via` to extend, take the copying
    /// path. Both must give the client the same kind of head.
    /// A plain GET's field lines go upstream as they came (but for the hop-by-hop and
    /// `X-Forwarded-*` ones, left out by bit), where a route with request rules copies the fields
    /// one by one: the upstream sees the same fields, in the same order, either way; and a head
    /// that reaches the proxy in pieces takes the field-by-field path with the same result.
    func testClientLinesGoUpstreamAsTheFieldsWould() async throws {
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy(
            """
            route /lines/ { proxy http://127.0.0.1:\(a.port) }
            route /fields/ {
                proxy http://127.0.0.1:\(a.port)
                request-header set X-Env prod
            }
            """
        )
        let fields = "Host: shop.example\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nConnection: keep-alive\r\n"
            + "X-Forwarded-For: 6.6.6.6\r\nAccept: text/html,*/*;q=0.8\r\nKeep-Alive: timeout=5\r\nX-Tight:v\r\n"
            + "Proxy-Authorization: Basic eA==\r\nX-Forwarded-Proto: gopher\r\nCookie: a=1; b=2\r\nX-Padded: \t p \t\r\n"
            + "x-forwarded-host: forged\r\nTE: trailers\r\nSec-Fetch-Mode: navigate\r\n\r\n"
        var echoes: [String: [String]] = [:]
        for (path, pieces) in [("/lines/x", 1), ("/fields/x", 1), ("/lines/x", 7)] {
            let connection = try RawConnection(port: port)
            let request = Array("GET \(path) HTTP/1.1\r\n\(fields)".utf8)
            let size = (request.count + pieces - 1) / pieces
            for start in stride(from: 0, to: request.count, by: size) {
                connection.send(Array(request[start..<min(start + size, request.count)]))
                if pieces > 1 { try await Task.sleep(for: .milliseconds(5)) }
            }
            let response = try XCTUnwrap(connection.readResponses(1).first, path)
            XCTAssertEqual(response.status, 200, path)
            let lines = String(decoding: response.body, as: UTF8.self).split(separator: "\n").dropFirst().map(String.init)
            echoes["\(path) \(pieces)"] = lines.filter { !$0.hasPrefix("x-env:") }
        }
        let expected = [
            "host: shop.example", "user-agent: Mozilla/5.0 (X11; Linux x86_64)", "accept: text/html,*/*;q=0.8", "x-tight: v",
            "cookie: a=1; b=2", "x-padded: p", "sec-fetch-mode: navigate", "x-forwarded-for: 127.0.0.1", "x-forwarded-proto: http",
            "x-forwarded-host: shop.example", "via: 1.1 tern",
        ]
        XCTAssertEqual(echoes["/lines/x 1"], expected)
        XCTAssertEqual(echoes["/fields/x 1"], expected)
        XCTAssertEqual(echoes["/lines/x 7"], expected)
    }

    func testHopByHopResponseFieldsGoOnEitherPath() async throws {
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(a.port) }")
        func header(_ response: Response, _ name: String) -> String? { response.headerFields[.init(name)!] }
        // Left out as written: standard hop-by-hop fields only.
        let (status, _, plain) = try await self.get(
            port, "/c/plain?h=Connection:keep-alive&h=Keep-Alive:timeout=5&h=Proxy-Authenticate:Basic&h=Trailer:X-T&h=X-Keep:1")
        XCTAssertEqual(status, 200)
        for hidden in ["Keep-Alive", "Proxy-Authenticate", "Trailer", "Connection"] {
            XCTAssertNil(header(plain, hidden), "\(hidden) must not reach the client")
        }
        XCTAssertEqual(header(plain, "X-Keep"), "1")
        XCTAssertEqual(header(plain, "Via"), "1.1 tern")
        // Copied and rewritten: a Via to extend, a Connection naming another field.
        let (_, _, via) = try await self.get(port, "/c/via?h=Via:1.0%20other")
        XCTAssertEqual(header(via, "Via"), "1.0 other, 1.1 tern")
        let (_, _, named) = try await self.get(port, "/c/named?h=Connection:X-Private&h=X-Private:1&h=X-Keep:2")
        XCTAssertNil(header(named, "X-Private"))
        XCTAssertEqual(header(named, "X-Keep"), "2")
        // An HTTP/1.0 client that asked to keep the connection is told it is kept, on either path.
        for path in ["/c/plain10?h=X-Keep:1", "/c/named10?h=Connection:X-Private&h=X-Private:1"] {
            let connection = try RawConnection(port: port)
            connection.send("GET \(path) HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
            let response = connection.readResponses(1).first
            XCTAssertEqual(response?.status, 200, path)
            XCTAssertEqual(response?.header("connection")?.lowercased(), "keep-alive", path)
            XCTAssertNil(response?.header("x-private"), path)
        }
    }

    func testHeadAndStatusesPassThrough() async throws {
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(a.port) }")
        let head = try await self.client.execute(Request(method: .head, url: "http://127.0.0.1:\(port)/x"))
        XCTAssertEqual(head.status.code, 200)
        try await assertEqualAsync(await head.string(), "")
        let (status, _, _) = try await self.get(port, "/status/418")
        XCTAssertEqual(status, 418)
        let (next, _, _) = try await self.get(port, "/x")
        XCTAssertEqual(next, 200)
    }
}

func assertEqualAsync<T: Equatable>(_ value: @autoclosure () async throws -> T, _ expected: T, file: StaticString = #filePath, line: UInt = #line) async throws {
    let actual = try await value()
    XCTAssertEqual(actual, expected, file: file, line: line)
}

func waitFor(timeout: Duration = .seconds(5), _ condition: () -> Bool) async throws {
    let end = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < end else { throw XCTSkip("condition not met in time") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Sends each request on one connection once the answer to the one before has come whole (by its
/// `Content-Length`), and returns the bodies.
func sequentialExchanges(port: Int, _ requests: [String]) throws -> [String] {
    let socket = try BlockingSocket(port: port)
    return try requests.map { request in
        try socket.send(request)
        let head = try socket.readHead().lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
            let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        else { throw TestFailure(message: "no content-length in \(head)") }
        return String(decoding: try socket.read(exactly: length), as: UTF8.self)
    }
}
