import Foundation
import XCTest

@testable import TernProxy

/// Upstreams that misbehave: responses with ambiguous framing, refused connections, resets and
/// closes mid-body, silence. Each gets the right status or a clean abort, and the proxy goes on
/// serving everything else.
final class HardeningUpstreamTests: ProxyTestCase {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func rawOrigin(_ script: @escaping @Sendable (String) -> RawOrigin.Script) async throws -> RawOrigin {
        let origin = try await RawOrigin.start(script)
        self.cleanups.append { try await origin.stop() }
        return origin
    }

    func testAmbiguousResponsesBecome502AndTheConnectionIsNotReused() async throws {
        let origin = try await self.rawOrigin { path in
            let head: String
            switch path {
            case "/cl-te": head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            case "/two-cl": head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
            case "/bad-cl": head = "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello"
            case "/bad-chunk": head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
            case "/nul": head = "HTTP/1.1 200 OK\r\nX-A: a\u{0}b\r\nContent-Length: 2\r\n\r\nok"
            case "/fold": head = "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok"
            default: head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            }
            return .init(response: Self.bytes(head), after: .keepOpen)
        }
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(origin.port) }")
        for path in ["/cl-te", "/two-cl", "/bad-cl", "/nul", "/fold"] {
            let requestsBefore = origin.requests
            let (status, _, _) = try await self.get(port, path)
            XCTAssertEqual(status, 502, path)
            XCTAssertEqual(origin.requests, requestsBefore + 1, "\(path): one attempt, no retry on the same server")
            let connectionsBefore = origin.connections
            // The next request must not ride the connection that carried the bad response.
            let (good, body, _) = try await self.get(port, "/good")
            XCTAssertEqual(good, 200, path)
            XCTAssertEqual(body, "ok")
            XCTAssertEqual(origin.connections, connectionsBefore + 1, "\(path): a new upstream connection after the bad one")
        }
        // A bad chunk after a good head: the client's response is cut off, never completed.
        let connection = try RawConnection(port: port)
        connection.send("GET /bad-chunk HTTP/1.1\r\nHost: x\r\n\r\n")
        connection.readUntilClose()
        XCTAssertTrue(connection.closedByPeer)
        XCTAssertFalse(connection.text.hasSuffix("0\r\n\r\n"), "a truncated chunked body must not be terminated: \(connection.text)")
    }

    /// A response head passed on as it came is written from its bytes when it arrived in one read,
    /// and from its fields when it came in pieces: either way the client gets the same head, the
    /// hop-by-hop fields left out, and a value's bytes as the origin sent them (also those that
    /// are not UTF-8, which the `String`s of a head read into fields would have replaced).
    func testAHeadComesOutTheSameWholeOrInPieces() async throws {
        let head = Self.bytes("HTTP/1.1 200 OK\r\nX-One:1\r\nConnection: keep-alive\r\nX-Bytes: caf") + [0xC3, 0xA9]
            + Self.bytes("\r\nKeep-Alive: timeout=5\r\nX-Raw: a") + [0xFF] + Self.bytes("b \t\r\nContent-Length: 5\r\n\r\nhello")
        let origin = try await self.rawOrigin { path in
            .init(response: head, after: .keepOpen, pieceSize: path == "/pieces" ? 3 : nil)
        }
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(origin.port) }")
        var heads: [[UInt8]] = []
        for path in ["/whole", "/pieces", "/whole"] {
            let connection = try RawConnection(port: port)
            connection.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = connection.readResponses(1).first
            XCTAssertEqual(response?.status, 200, path)
            let received = connection.received
            let end = try XCTUnwrap(received.firstRange(of: Self.bytes("\r\n\r\n")), path)
            heads.append(Array(received[..<end.upperBound]))
            XCTAssertEqual(Array(received[end.upperBound...]), Self.bytes("hello"), path)
        }
        let expected = Self.bytes("HTTP/1.1 200 OK\r\nX-One: 1\r\nX-Bytes: caf") + [0xC3, 0xA9] + Self.bytes("\r\nX-Raw: a") + [0xFF]
            + Self.bytes("b\r\nContent-Length: 5\r\nVia: 1.1 tern\r\n\r\n")
        XCTAssertEqual(heads[0], expected, String(decoding: heads[0], as: UTF8.self))
        // In pieces the fields became Strings, which repair the byte that is not UTF-8.
        XCTAssertEqual(String(decoding: heads[1], as: UTF8.self), String(decoding: expected, as: UTF8.self))
        XCTAssertNotEqual(heads[1], expected, "the head in pieces was read into fields (else this test misses that path)")
        XCTAssertEqual(heads[2], expected)
        XCTAssertEqual(origin.connections, 1, "one upstream connection, kept alive throughout")
    }

    func testRefusedConnectionIs502AndTheProxyGoesOn() async throws {
        let dead = try self.deadPort()
        let origin = try await self.origin("a")
        let (_, port) = try await self.proxy(
            "route /dead/ { proxy http://127.0.0.1:\(dead) }\nroute / { proxy http://127.0.0.1:\(origin.port) }")
        let (status, body, _) = try await self.get(port, "/dead/x")
        XCTAssertEqual(status, 502)
        XCTAssertTrue(body.contains("502"), body)
        let (ok, _, _) = try await self.get(port, "/alive")
        XCTAssertEqual(ok, 200)
    }

    func testResetOrCloseMidBodyAbortsTheClientConnection() async throws {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "x", count: 1000)
        let chunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + String(repeating: "x", count: 1000) + "\r\n"
        let origin = try await self.rawOrigin { path in
            switch path {
            case "/reset": .init(response: Self.bytes(head), after: .reset)
            case "/close": .init(response: Self.bytes(head), after: .close)
            case "/close-chunked": .init(response: Self.bytes(chunkedHead), after: .close)
            default: .init(response: Self.bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), after: .keepOpen)
            }
        }
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(origin.port) }")
        for path in ["/reset", "/close", "/close-chunked"] {
            let connection = try RawConnection(port: port)
            connection.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
            connection.readUntilClose()
            XCTAssertTrue(connection.closedByPeer, "\(path): the client connection is closed")
            let text = connection.text
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 200"), "\(path): \(text.prefix(100))")
            if path == "/close-chunked" {
                XCTAssertFalse(text.hasSuffix("0\r\n\r\n"), "a truncated chunked body must not be terminated")
            } else {
                let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
                XCTAssertLessThan(body.utf8.count, 100000, "\(path): fewer bytes than Content-Length, then the close")
            }
            let (ok, _, _) = try await self.get(port, "/good")
            XCTAssertEqual(ok, 200, "\(path): the proxy goes on")
        }
    }

    func testOriginThatStallsIs504AndOneThatDiesBeforeAnsweringIs502() async throws {
        let origin = try await self.rawOrigin { path in
            switch path {
            case "/stall": .init(response: nil, after: .keepOpen)
            case "/die": .init(response: nil, after: .close)
            case "/die-reset": .init(response: nil, after: .reset)
            default: .init(response: Self.bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), after: .keepOpen)
            }
        }
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(origin.port)\ntimeout read 500ms }")
        let (stalled, _, _) = try await self.get(port, "/stall")
        XCTAssertEqual(stalled, 504)
        // POST: not retried, so the status is the failure's own.
        for path in ["/die", "/die-reset"] {
            var request = Request(url: "http://127.0.0.1:\(port)\(path)")
            request.method = .post
            let response = try await self.client.execute(request)
            XCTAssertEqual(response.status.code, 502, path)
        }
        let (ok, _, _) = try await self.get(port, "/good")
        XCTAssertEqual(ok, 200)
    }
}

import TernClient
