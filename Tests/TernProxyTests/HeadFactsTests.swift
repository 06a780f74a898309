import NIOCore
import NIOHTTP1
import TernTestSupport
import XCTest

@testable import TernClient
@testable import TernProxy

/// What the parser notes about a head's fields (`HTTP1HeadFacts`) stands in for reading the fields
/// again: the agent's keep-alive and `Keep-Alive` hint, the proxy's hop-by-hop fields, `Via`,
/// `Connection` tokens and framing. Each fact must say what the reading it replaces says, for
/// every head the parser hands on: the fuzz test's seeded requests, and responses made from
/// fields chosen at random among the awkward ones.
final class HeadFactsTests: XCTestCase {
    static let responseFields: [String] = [
        "Connection: keep-alive", "Connection: close", "connection: Keep-Alive, Upgrade", "Connection: X-Private, close",
        "Connection: ,", "Connection:", "Keep-Alive: timeout=5, max=100", "Keep-Alive: max=3, Timeout = 7",
        "Keep-Alive: timeout=x", "Keep-Alive: timeout=-1", "keep-alive: timeout=12", "Proxy-Connection: keep-alive",
        "TE: trailers", "Trailer: X-T", "Transfer-Encoding: chunked", "Upgrade: websocket", "Proxy-Authenticate: Basic",
        "Proxy-Authorization: Basic eA==", "Via: 1.0 other", "VIA: 1.1 b", "Content-Length: 0", "content-length: 0",
        "Expect: 100-continue", "Host: h", "X-Keep: 1", "Date: Thu, 03 Dec 2026 15:21:19 GMT", "Upgradf: x", "Tee: x",
        "X-Bytes: caf\u{E9} \u{FF}", "Server:   padded   ", "X-Forwarded-For: 1.2.3.4", "x-forwarded-proto: https",
        "X-Forwarded-Host: h", "X-Forwarded-Port: 1",
    ]

    func testFactsSayWhatReadingTheFieldsSays() throws {
        var random = SeededGenerator(seed: 0x4EAD_FAC7)
        var requests = 0
        for index in 0..<HardeningFuzzTests.inputs {
            let bytes = HardeningFuzzTests.input(index, &random)
            requests += self.check(bytes, kind: .request)
        }
        var responses = 0
        for round in 0..<600 {
            // Some heads with more than 64 fields, whose later fields have no bit.
            let count = round % 10 == 9 ? Int.random(in: 60...80, using: &random) : Int.random(in: 0...8, using: &random)
            var bytes = Array((round % 3 == 0 ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.1 200 OK\r\n").utf8)
            for _ in 0..<count {
                if Int.random(in: 0..<12, using: &random) == 0 {
                    bytes += Array("X-Raw: a".utf8) + [0xC3, 0x28, 0xFF, 0x80] + Array("\r\n".utf8)  // not UTF-8
                } else {
                    bytes += Array((Self.responseFields.randomElement(using: &random)! + "\r\n").utf8)
                }
            }
            bytes += Array("\r\n".utf8)
            responses += self.check(bytes, kind: .response)
        }
        XCTAssertGreaterThan(requests, 400, "too few request heads parsed to say much: \(requests)")
        XCTAssertGreaterThan(responses, 400, "too few response heads parsed to say much: \(responses)")
    }

    /// `ProxyHandler.upstreamKnownFields` is what the agent would read in the upstream head's
    /// fields (`KnownRequestFields(reading:)`), for each way the route treats `Host`; and nothing
    /// is claimed when the route has request rules.
    private func checkKnownUpstreamFields(facts: HTTP1HeadFacts, headers: HTTPHeaders, input: String) {
        let location = SourceLocation(file: "t", line: 1, column: 1)
        for hostHeader in [ProxyConfiguration.Route.HostHeader.keep, .upstream, .set("h")] {
            var route = ProxyConfiguration.Route(host: .any, pathPrefix: "/", action: .proxy(upstream: "u"), location: location)
            route.hostHeader = hostHeader
            var upstream = HeaderRewriting.upstreamFields(
                headers, forwarded: .init(client: "127.0.0.1", proto: "http", host: headers.first(name: "host")), via: "1.1 tern")
            if hostHeader != .keep { upstream.replaceOrAdd(name: "Host", value: "h") }
            let known = ProxyHandler.upstreamKnownFields(facts, route: route)
            if let known {
                XCTAssertEqual(known, KnownRequestFields(reading: upstream), "\(hostHeader) \(input)")
            } else {
                XCTAssertTrue(facts.connectionNamesOthers, input)
            }
            route.requestHeaders = [.remove(name: "content-length")]
            XCTAssertNil(ProxyHandler.upstreamKnownFields(facts, route: route))
        }
    }

    /// Parses `bytes`; for each head handed on, compares its facts with the readings they replace.
    /// Returns the number of heads.
    private func check(_ bytes: [UInt8], kind: HTTP1Parser.Kind) -> Int {
        var parser = HTTP1Parser(kind: kind, maxHeadBytes: 64 * 1024, maxFieldCount: 200)
        var buffer = ByteBuffer(bytes: bytes)
        var heads = 0
        while !parser.hasStopped, let event = try? parser.next(&buffer) {
            let headers: HTTPHeaders
            let version: HTTPVersion
            let request: Bool
            switch event {
            case .requestHead(let head): (headers, version, request) = (head.headers, head.version, true)
            case .responseHead(let head): (headers, version, request) = (head.headers, head.version, false)
            case .body, .end: continue
            }
            heads += 1
            let facts = parser.lastHead
            let input = String(decoding: bytes, as: UTF8.self).debugDescription
            XCTAssertEqual(facts.fieldCount, headers.count, input)
            XCTAssertEqual(facts.coversAllFields, headers.count <= 64, input)
            for (index, field) in headers.enumerated() where index < 64 {
                XCTAssertEqual(facts.hopByHop & (1 << UInt64(index)) != 0, HeaderRewriting.isHopByHop(field.name), "\(field.name) in \(input)")
                let forwarded = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"].contains(field.name.lowercased())
                XCTAssertEqual(facts.xForwarded & (1 << UInt64(index)) != 0, forwarded, "\(field.name) in \(input)")
            }
            XCTAssertEqual(facts.keepsAlive(version), HTTP1Fields.isKeepAlive(headers, version: version), input)
            XCTAssertEqual(facts.keepAliveTimeout.map { TimeAmount.seconds(Int64($0)) }, HTTP1Connection.keepAliveTimeout(headers), input)
            XCTAssertEqual(facts.hasContentLength, headers.contains(name: "content-length"), input)
            XCTAssertEqual(facts.hasTransferEncoding, headers.contains(name: "transfer-encoding"), input)
            XCTAssertEqual(facts.hasVia, headers.contains(name: "via"), input)
            XCTAssertEqual(facts.hasExpect, headers.contains(name: "expect"), input)
            XCTAssertEqual(facts.hasUpgrade, headers.contains(name: "upgrade"), input)
            XCTAssertEqual(facts.hosts, headers["host"].count, input)
            if request {
                XCTAssertEqual(facts.contentLength, HTTP1Fields.contentLength(headers), input)
                self.checkKnownUpstreamFields(facts: facts, headers: headers, input: input)
            }
            let connection = headers.filter { ASCII.equals($0.name, "connection") }
            XCTAssertEqual(
                facts.connectionNamesOthers, connection.contains { !HeaderRewriting.namesOnlyStandardTokens($0.value) }, input)
            if headers.allSatisfy({ $0.name.utf8.allSatisfy { $0 < 0x80 } && $0.value.utf8.allSatisfy { $0 < 0x80 } }) {
                XCTAssertEqual(facts.fieldBytes, headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }, input)
            } else {
                // Bytes that are not UTF-8 grew into U+FFFD: at most three bytes for one.
                XCTAssertLessThanOrEqual(headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }, 3 * facts.fieldBytes, input)
            }
        }
        return heads
    }
}
