import Foundation
import NIOCore
import TernClient
import TernTestSupport
import XCTest

@testable import TernProxy

/// Request smuggling (RFC 9112 §6.3, §11.2): framing that two parsers could read two ways is
/// refused with 400 (501 for a transfer coding we do not implement), never forwarded, and the
/// connection is closed.
final class HardeningFramingTests: ProxyTestCase {
    static let attacks: [(name: String, request: String, status: Int)] = [
        ("CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("two different CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
        ("CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!", 400),
        ("CL +5", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400),
        ("CL 5x", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\nhello", 400),
        ("TE gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc", 400),
        ("TE xchunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400),
        ("TE chunked, gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
        ("TE gzip, chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        ("TE twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("TE in HTTP/1.0", "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("TE space before colon", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),
        ("bare CR", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
        ("bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400),
        ("NUL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n", 400),
        ("control byte in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{1}b\r\n\r\n", 400),
        ("DEL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{7f}b\r\n\r\n", 400),
        ("NUL in the URI", "GET /a\u{0}b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("space in a name", "GET / HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", 400),
        ("no Host", "GET / HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
        ("bad version", "GET / HTTP/1.1x\r\nHost: x\r\n\r\n", 400),
    ]

    func testAmbiguousOrMalformedHeadsAreRefusedUnforwardedAndClosed() async throws {
        let origin = try await self.origin("a")
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(origin.port) }")
        for attack in Self.attacks {
            let connection = try RawConnection(port: port)
            connection.send(attack.request)
            let responses = connection.readResponses(1)
            XCTAssertEqual(responses.first?.status, attack.status, "\(attack.name): \(connection.text)")
            XCTAssertEqual(responses.first?.header("connection")?.lowercased(), "close", attack.name)
            XCTAssertTrue(connection.isClosed(), "\(attack.name): the connection must close after a framing error")
        }
        XCTAssertEqual(origin.requests, 0, "no refused request reaches the origin")
        // Still serving.
        let (status, body, _) = try await self.get(port, "/after")
        XCTAssertEqual(status, 200)
        XCTAssertTrue(body.hasPrefix("a GET /after"), body)
    }

    func testSmuggledRequestBehindConflictingFramingIsNeverForwarded() async throws {
        let origin = try await self.origin("a")
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(origin.port) }")
        let connection = try RawConnection(port: port)
        connection.send(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 35\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                + "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        let text = connection.readUntilClose()
        XCTAssertTrue(connection.closedByPeer)
        let responses = RawResponse.parseAll(connection.received)
        XCTAssertEqual(responses.map(\.status), [400], text)
        XCTAssertEqual(origin.requests, 0)
    }

    func testBadChunkAnswers400AndCloses() async throws {
        let origin = try await self.origin("a")
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(origin.port) }")
        let bodies = ["zz\r\nhello\r\n0\r\n\r\n", "1ffffffffffffffff\r\nhello\r\n0\r\n\r\n", "-5\r\nhello\r\n0\r\n\r\n",
                      "3\r\nhello\r\n0\r\n\r\n", "5\nhello\r\n0\r\n\r\n", "5;a\u{1}=b\r\nhello\r\n0\r\n\r\n"]
        for body in bodies {
            let connection = try RawConnection(port: port)
            connection.send("POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
            let responses = connection.readResponses(1)
            XCTAssertEqual(responses.first?.status, 400, "\(body.debugDescription): \(connection.text)")
            XCTAssertTrue(connection.isClosed(), body.debugDescription)
        }
    }

    func testWellFramedRequestsKeepTheConnection() async throws {
        let origin = try await self.origin("a")
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(origin.port) }")
        let connection = try RawConnection(port: port)
        // A legal chunk extension, equal repeated lengths in one list, a tab in a value.
        connection.send("POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n")
        connection.send("POST /sink HTTP/1.1\r\nHost: x\r\nX-T: a\tb\r\nContent-Length: 3\r\n\r\nabc")
        connection.send("POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nabcd")
        connection.send("GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = connection.readResponses(4)
        XCTAssertEqual(responses.map(\.status), [200, 200, 200, 200], connection.text)
        // The origin's /sink answers with the number of bytes it got: every body reached it whole.
        XCTAssertEqual(responses.prefix(3).map { String(decoding: $0.body, as: UTF8.self) }, ["5", "3", "4"])
        // The same length list alone on a connection: the head read from what the parser noted
        // (above, pipelined behind another, it waited in the queue and its fields were read).
        let alone = try RawConnection(port: port)
        alone.send("POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nabcd")
        XCTAssertEqual(alone.readResponses(1).first.map { String(decoding: $0.body, as: UTF8.self) }, "4", alone.text)
        XCTAssertFalse(responses.contains { $0.header("connection") == "close" })
    }

    func testRequestRulesArePure() {
        let rules = RequestRules(ProxyConfiguration.Limits())
        var head = HTTPRequestHeadBuilder.make("GET", "/", [("Host", "x"), ("Content-Length", "5, 5")])
        XCTAssertNil(rules.check(head), "equal values in one list are one length")
        head = HTTPRequestHeadBuilder.make("GET", "/", [("Host", "x"), ("Content-Length", "5"), ("Content-Length", "7")])
        XCTAssertEqual(rules.check(head)?.status, .badRequest)
        head = HTTPRequestHeadBuilder.make("GET", "/", [("Host", "x"), ("Transfer-Encoding", "chunked"), ("Content-Length", "7")])
        XCTAssertEqual(rules.check(head)?.reason, "both Content-Length and Transfer-Encoding")
        head = HTTPRequestHeadBuilder.make("GET", "/", [("Host", "x"), ("X-A", "a\u{0}")])
        XCTAssertEqual(rules.check(head)?.status, .badRequest)
        head = HTTPRequestHeadBuilder.make("GET", "/", [("Host", "x"), ("Transfer-Encoding", "Chunked")])
        XCTAssertNil(rules.check(head), "coding names are case-insensitive")
    }

    /// The shortcut the listeners take (`RequestRules.accepts`, from what the parser noted on the
    /// way) never lets through a head that reading every field (`check`) refuses, and takes the
    /// plain ones. Fed the fuzz test's seeded inputs and cases of each rule, under the default
    /// limits and under limits small enough to bite.
    func testParserFactsNeverAcceptWhatTheRulesRefuse() throws {
        var tight = ProxyConfiguration.Limits()
        tight.maxHeaderSize = 40
        tight.maxHeaderCount = 3
        tight.maxURILength = 12
        let cases = [
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.0\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nhost: x\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
            "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked,\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /a/rather/long/path HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-Long: \(String(repeating: "z", count: 60))\r\n\r\n",
        ]
        var inputs = cases.map { Array($0.utf8) }
        var random = SeededGenerator(seed: HardeningFuzzTests.seed)
        for index in 0..<HardeningFuzzTests.inputs { inputs.append(HardeningFuzzTests.input(index, &random)) }

        var shortcuts = 0
        var plain = 0
        for limits in [ProxyConfiguration.Limits(), tight] {
            let rules = RequestRules(limits)
            for bytes in inputs {
                var parser = HTTP1Parser(kind: .request, maxHeadBytes: 64 * 1024, maxFieldCount: 200)
                var buffer = ByteBuffer(bytes: bytes)
                while !parser.hasStopped, let event = try? parser.next(&buffer) {
                    guard case .requestHead(let head) = event else { continue }
                    let verdict = rules.check(head)
                    if rules.accepts(head, facts: parser.lastHead) {
                        shortcuts += 1
                        XCTAssertNil(verdict, "the shortcut took a head the rules refuse: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
                    }
                    if verdict == nil { plain += 1 }
                }
            }
        }
        // The shortcut is the common path: most heads that pass take it (those that pass only on a
        // second look, like `Content-Length: 5, 5`, do not).
        XCTAssertGreaterThan(shortcuts, plain * 9 / 10, "\(shortcuts) shortcuts of \(plain) heads that pass")
        let rules = RequestRules(ProxyConfiguration.Limits())
        var parser = HTTP1Parser(kind: .request, maxHeadBytes: 1024, maxFieldCount: 10)
        var buffer = ByteBuffer(string: cases[0])
        guard case .requestHead(let head)? = try parser.next(&buffer) else { return XCTFail("no head") }
        XCTAssertTrue(rules.accepts(head, facts: parser.lastHead))
    }
}

import NIOCore
import NIOHTTP1

enum HTTPRequestHeadBuilder {
    static func make(_ method: String, _ uri: String, _ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: uri, headers: HTTPHeaders(headers))
    }
}

/// A refusal behind pipelined requests still being answered waits for their answers.
final class HardeningPipelinedRefusalTests: ProxyTestCase {
    func testBadHeadBehindAPipelinedRequestIsAnsweredInOrderThenClosed() async throws {
        let origin = try await self.origin("a")
        let (_, port) = try await self.proxy("route / { proxy http://127.0.0.1:\(origin.port) }")
        for bad in ["GET /b HTTP/1.1\r\nHost: x\r\nX: a\u{0}b\r\n\r\n", "GET /b HTTP/1.1\r\n\r\n", "GET /\(String(repeating: "u", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n"] {
            let connection = try RawConnection(port: port)
            connection.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n" + bad + "GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
            connection.readUntilClose()
            XCTAssertTrue(connection.closedByPeer)
            let responses = RawResponse.parseAll(connection.received)
            XCTAssertEqual(responses.map(\.status).first, 200, connection.text)
            XCTAssertEqual(responses.map(\.status).dropFirst().first.map { $0 >= 400 }, true, connection.text)
            XCTAssertEqual(responses.count, 2, connection.text)
            XCTAssertTrue(String(decoding: responses[0].body, as: UTF8.self).hasPrefix("a GET /first"))
        }
        XCTAssertEqual(origin.requests, 3, "only /first: nothing after the bad head is forwarded")
    }
}
