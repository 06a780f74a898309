import Foundation
import TernTestSupport
import XCTest

@testable import TernProxy

/// Seeded random inputs to a running proxy over real sockets: mutated requests, smuggling
/// variants and garbage. The proxy must never crash or hang, must answer each with well-formed
/// responses or a close, must never pass malformed framing to the origin, and must still serve
/// normal requests afterwards. A fixed seed: a failure names the input that caused it, which then
/// becomes a case in HardeningFramingTests.
final class HardeningFuzzTests: ProxyTestCase {
    static let seed: UInt64 = 0x7E24_0008
    static let inputs = 2000

    static let corpus: [String] = [
        "GET /a?b=c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        "POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
        "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nokGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: x\r\n\r\n",
        "HEAD /status/204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET http://x/abs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "PUT /sink HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    ]

    static let nastyLines: [String] = [
        "Content-Length: 5\r\n", "Content-Length: 0\r\n", "Content-Length: -1\r\n", "Content-Length: 99999999999999999999\r\n",
        "Transfer-Encoding: chunked\r\n", "Transfer-Encoding: gzip\r\n", "Transfer-Encoding: chunked, identity\r\n",
        "Transfer-Encoding:\tchunked\r\n", "Transfer-Encoding : chunked\r\n", " Transfer-Encoding: chunked\r\n",
        "Host: y\r\n", "Connection: keep-alive\r\n", "Connection: close\r\n", "Upgrade: websocket\r\n", "X: \u{0}\r\n",
        "X-Fold: a\r\n b\r\n", "Expect: 100-continue\r\n", "X-Long: \(String(repeating: "z", count: 5000))\r\n",
    ]

    static let specialBytes: [UInt8] = [0x0D, 0x0A, 0x00, 0x01, 0x20, 0x3A, 0x2C, 0x09, 0x7F, 0xFF, 0x3B, 0x30, 0x66, 0x2D]

    static func input(_ index: Int, _ random: inout SeededGenerator) -> [UInt8] {
        var bytes = Array(Self.corpus[Int.random(in: 0..<Self.corpus.count, using: &random)].utf8)
        if index % 50 == 49 {
            return (0..<Int.random(in: 1...512, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = Int.random(in: 0...bytes.count, using: &random)
            switch Int.random(in: 0..<7, using: &random) {
            case 0 where !bytes.isEmpty:
                bytes[min(position, bytes.count - 1)] = UInt8.random(in: 0...255, using: &random)
            case 1:
                bytes.insert(Self.specialBytes.randomElement(using: &random)!, at: position)
            case 2 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...8, using: &random))
                bytes.removeSubrange(min(position, end)..<end)
            case 3:
                // A nasty header line after the request line.
                if let lineEnd = bytes.firstRange(of: Array("\r\n".utf8)) {
                    bytes.insert(contentsOf: Array(Self.nastyLines.randomElement(using: &random)!.utf8), at: lineEnd.upperBound)
                }
            case 4:
                bytes = Array(bytes.prefix(position))
            case 5 where !bytes.isEmpty:
                // A digit somewhere turned into another (lengths and chunk sizes).
                if let digit = bytes.indices.filter({ bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }).randomElement(using: &random) {
                    bytes[digit] = UInt8.random(in: 0x30...0x39, using: &random)
                }
            default:
                bytes.insert(contentsOf: Array(Self.corpus.randomElement(using: &random)!.utf8), at: position)
            }
        }
        return bytes
    }

    func testSeededRandomRequestsNeverBreakTheProxy() async throws {
        let origin = try await self.origin("a")
        let (_, port) = try await self.proxy(
            "limits { header-timeout 2s\nmax-header-size 8k }\nroute / { proxy http://127.0.0.1:\(origin.port)\ntimeout read 2s }")
        try await self.fuzz(port: port)
    }

    /// The same through a cache, which reads the request's fields from its bytes: every GET asks
    /// for one of a few responses the origin lets it store (`Vary: Accept-Encoding`), so that the
    /// mutated requests are looked up, filled, answered from the store, conditionally and by range.
    func testSeededRandomRequestsNeverBreakTheCachingProxy() async throws {
        let origin = try await self.origin("a")
        let (_, port) = try await self.proxy(
            "cache memory 16m\nlimits { header-timeout 2s\nmax-header-size 8k }\n"
                + "route / { proxy http://127.0.0.1:\(origin.port)\ntimeout read 2s }")
        let stored = Array("GET /c/f?h=Cache-Control%3A%20max-age%3D60&h=ETag%3A%20%22e%22&h=Vary%3A%20Accept-Encoding&size=64&p=".utf8)
        // And a field that changes the cache's answer after every `Host: x`, by turns.
        let extra = ["", "If-None-Match: \"e\"\r\n", "Range: bytes=0-3\r\n", "Cache-Control: max-age=0\r\nAccept-Encoding: gzip\r\n"]
        var statuses: [Int: Int] = [:]
        var hits = 0
        try await self.fuzz(port: port) { number, input in
            // Every "GET /" becomes a GET of the stored response (its path after `p=`).
            var bytes: [UInt8] = []
            var index = 0
            while index < input.count {
                if input[index...].starts(with: Array("GET /".utf8)) {
                    bytes += stored
                    index += 5
                } else if input[index...].starts(with: Array("Host: x\r\n".utf8)) {
                    bytes += Array(("Host: x\r\n" + extra[number % extra.count]).utf8)
                    index += 9
                } else {
                    bytes.append(input[index])
                    index += 1
                }
            }
            return bytes
        } responses: { response in
            statuses[response.status, default: 0] += 1
            if response.header("cache-status")?.contains("hit") == true { hits += 1 }
        }
        XCTAssertGreaterThan(hits, 100, "the mutated requests reach the store")
        XCTAssertGreaterThan(statuses[304, default: 0], 20, "answered conditionally from the store")
        XCTAssertGreaterThan(statuses[206, default: 0], 20, "and by range")
    }

    private func fuzz(
        port: Int, rewrite: (Int, [UInt8]) -> [UInt8] = { $1 }, responses seen: (RawResponse) -> Void = { _ in }
    ) async throws {
        var random = SeededGenerator(seed: Self.seed)
        var statuses: [Int: Int] = [:]
        var closedSilently = 0
        for index in 0..<Self.inputs {
            let input = rewrite(index, Self.input(index, &random))
            let connection = try RawConnection(port: port, timeout: 0.1)
            connection.send(input)
            connection.readUntilClose()
            if !connection.closedByPeer {
                // Waiting for more: end our side; the proxy must then finish and close.
                connection.shutdownWrite()
                connection.setTimeout(5)
                connection.readUntilClose()
            }
            let shown = String(decoding: input.prefix(300), as: UTF8.self).debugDescription
            XCTAssertTrue(connection.closedByPeer, "input \(index) left the connection hanging: \(shown)")
            let responses = RawResponse.parseAll(connection.received, partial: true)
            if connection.received.isEmpty {
                closedSilently += 1
            } else {
                XCTAssertTrue(connection.text.hasPrefix("HTTP/1."), "input \(index) got a malformed answer: \(shown) → \(connection.text.prefix(200).debugDescription)")
                XCTAssertFalse(responses.isEmpty, "input \(index): \(shown)")
            }
            for response in responses {
                statuses[response.status, default: 0] += 1
                seen(response)
                XCTAssertTrue((100...599).contains(response.status), "input \(index): \(shown)")
                XCTAssertNotEqual(response.status, 500, "input \(index) made the proxy fail: \(shown)")
                if response.status == 400 {
                    XCTAssertNil(response.header("via"), "input \(index): the origin got a request it could not parse: \(shown)")
                }
            }
            if index % 250 == 249 {
                let (status, _, _) = try await self.get(port, "/alive-\(index)")
                XCTAssertEqual(status, 200, "after input \(index)")
            }
        }
        let (status, _, _) = try await self.get(port, "/finally")
        XCTAssertEqual(status, 200)
        print("fuzz: seed \(Self.seed), \(Self.inputs) inputs, statuses \(statuses.sorted { $0.key < $1.key }), closed without an answer: \(closedSilently)")
        XCTAssertGreaterThan(statuses[400, default: 0], 100, "the mutations reach the framing checks")
        XCTAssertGreaterThan(statuses[200, default: 0], 50, "and some still pass")
    }
}
