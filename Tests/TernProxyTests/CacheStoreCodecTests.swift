import NIOCore
import NIOHTTP1
import XCTest

@testable import TernProxy

/// `CachedResponseCodec` (the Redis metadata format) and `RedisCircuitBreaker`, without Redis.
final class CacheStoreCodecTests: XCTestCase {
    private let prefix = CachedResponseCodec.Prefix(generation: "abc123", chunkCount: 3, bodyLength: 300_000, expiresAtMs: 1_900_000_000_000)

    private func sample() -> CachedResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        headers.add(name: "Set-Cookie", value: "a=1")
        headers.add(name: "Set-Cookie", value: "b=2")
        headers.add(name: "X-Unicode", value: "välue")
        return CachedResponse(
            variantID: "v9", status: 203, headers: headers,
            varyValues: [VaryValue(name: "accept-encoding", value: "gzip"), VaryValue(name: "cookie", value: nil)],
            requestTime: 1_700_000_000, responseTime: 1_700_000_002, bodyLength: 1, chunkCount: 1, isPassMarker: true
        )
    }

    func testRoundTrip() throws {
        let original = self.sample()
        let (decoded, prefix) = try CachedResponseCodec.decode(CachedResponseCodec.encode(original, prefix: self.prefix))
        XCTAssertEqual(prefix, self.prefix)
        XCTAssertEqual(decoded.variantID, "v9")
        XCTAssertEqual(decoded.status, 203)
        XCTAssertEqual(decoded.headers.map { "\($0.name): \($0.value)" }, original.headers.map { "\($0.name): \($0.value)" })
        XCTAssertEqual(decoded.varyValues, original.varyValues)
        XCTAssertEqual(decoded.requestTime, 1_700_000_000)
        XCTAssertEqual(decoded.responseTime, 1_700_000_002)
        XCTAssertEqual(decoded.bodyLength, 300_000, "the body fields come from the prefix line")
        XCTAssertEqual(decoded.chunkCount, 3)
        XCTAssertEqual(decoded.generation, "abc123", "the generation comes from the prefix line")
        XCTAssertTrue(decoded.isPassMarker)
    }

    /// The prefix line, read byte by byte: what it accepts and what it refuses.
    func testPrefixLines() {
        let good: [(String, CachedResponseCodec.Prefix)] = [
            ("T1 abc 1 1 1\n", .init(generation: "abc", chunkCount: 1, bodyLength: 1, expiresAtMs: 1)),
            ("T1 Z9 0 0 -5\n", .init(generation: "Z9", chunkCount: 0, bodyLength: 0, expiresAtMs: -5)),
            ("T1 0 2 262144 1900000000000\n", .init(generation: "0", chunkCount: 2, bodyLength: 262_144, expiresAtMs: 1_900_000_000_000)),
        ]
        for (line, expected) in good {
            var buffer = ByteBuffer(string: line + "rest")
            XCTAssertEqual(try CachedResponseCodec.decodePrefix(&buffer), expected, line)
            XCTAssertEqual(buffer.readableBytes, 4, "the reader stops after the line: \(line)")
        }
        let bad = [
            "T1\n", "T1 \n", "T1 abc\n", "T1 abc 1 1\n", "T1 abc 1 1 1 1\n", "T1  abc 1 1 1\n", "T1 abc  1 1 1\n",
            "T1 abc 1 1 \n", "T1 abc 1 1 x\n", "T1 abc 1x 1 1\n", "T1 abc 1 1 1 \n", "t1 abc 1 1 1\n", "T1 ab-c 1 1 1\n",
            "T1 é 1 1 1\n", "T1 abc 0 1 1\n", "T1 abc 1 -1 1\n", "T1 abc 1 1 --1\n", "T1 abc 1 1 -\n",
            "T1 abc 1 1 1234567890123456789\n", "T1 abc 99999999 1 1\n", "T1 abc 1 1 1\r\n",
        ]
        for line in bad {
            var buffer = ByteBuffer(string: line)
            XCTAssertThrowsError(try CachedResponseCodec.decodePrefix(&buffer), line.debugDescription)
        }
    }

    func testCorruptInputIsRejected() {
        let valid = CachedResponseCodec.encode(self.sample(), prefix: self.prefix)
        var cases: [String: ByteBuffer] = [
            "empty": ByteBuffer(),
            "no line": ByteBuffer(string: "T1 abc 1 1 1"),
            "other version": ByteBuffer(string: "T2 abc 1 1 1\n"),
            "negative": ByteBuffer(string: "T1 abc -1 1 1\n"),
            "chunks without length": ByteBuffer(string: "T1 abc 1 0 1\n"),
            "odd generation": ByteBuffer(string: "T1 a:b 1 1 1\n"),
        ]
        var trailing = valid
        trailing.writeString("x")
        cases["trailing byte"] = trailing
        var huge = ByteBuffer(string: "T1 abc 1 1 1\n")
        huge.writeInteger(UInt16(200))
        huge.writeInteger(UInt8(0))
        huge.writeInteger(Int64(0))
        huge.writeInteger(Int64(0))
        huge.writeInteger(UInt32.max)
        cases["huge string length"] = huge
        var badName = ByteBuffer(string: "T1 abc 1 1 1\n")
        badName.writeInteger(UInt16(200))
        badName.writeInteger(UInt8(0))
        badName.writeInteger(Int64(0))
        badName.writeInteger(Int64(0))
        badName.writeInteger(UInt32(0))
        badName.writeInteger(UInt32(1))
        badName.writeInteger(UInt32(2))
        badName.writeString("Ü")
        badName.writeInteger(UInt32(0))
        badName.writeInteger(UInt32(0))
        cases["header name not ASCII"] = badName
        for (name, input) in cases {
            XCTAssertThrowsError(try CachedResponseCodec.decode(input), name) { error in
                XCTAssertEqual((error as? CacheStoreError)?.code, .corrupt, name)
            }
        }
        // Every truncation of a valid value is rejected, never a crash.
        for length in 0..<valid.readableBytes {
            XCTAssertThrowsError(try CachedResponseCodec.decode(valid.getSlice(at: valid.readerIndex, length: length)!))
        }
    }

    func testRandomBytesNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        let valid = CachedResponseCodec.encode(self.sample(), prefix: self.prefix)
        for _ in 0..<2000 {
            var bytes = Array(valid.readableBytesView)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? CachedResponseCodec.decode(ByteBuffer(bytes: bytes))
        }
    }

    func testBreakerOpensProbesAndCloses() {
        let breaker = RedisCircuitBreaker(baseDelay: .seconds(1), maxDelay: .seconds(4), logger: .init(label: "test"))
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        let error = CacheStoreError(code: .unavailable, detail: "refused")
        XCTAssertEqual(breaker.admit(now: start), .allow)
        breaker.failed(error, outage: true, now: start)
        XCTAssertTrue(breaker.isOpen)
        guard case .reject = breaker.admit(now: start + .milliseconds(999)) else { return XCTFail("not open") }
        // After the back-off, one probe goes through and the others still fail fast.
        XCTAssertEqual(breaker.admit(now: start + .seconds(1)), .allow)
        guard case .reject = breaker.admit(now: start + .seconds(1)) else { return XCTFail("two probes") }
        // The probe fails: open for twice as long.
        breaker.failed(error, outage: true, now: start + .seconds(1))
        guard case .reject = breaker.admit(now: start + .milliseconds(2999)) else { return XCTFail("back-off did not double") }
        XCTAssertEqual(breaker.admit(now: start + .seconds(3)), .allow)
        breaker.failed(error, outage: true, now: start + .seconds(3))
        breaker.failed(error, outage: true, now: start + .seconds(3))
        guard case .reject = breaker.admit(now: start + .milliseconds(6999)) else { return XCTFail("back-off") }
        XCTAssertEqual(breaker.admit(now: start + .seconds(7)), .allow)
        breaker.failed(error, outage: true, now: start + .seconds(7))
        // Capped at the maximum (4 s).
        XCTAssertEqual(breaker.admit(now: start + .seconds(11)), .allow)
        breaker.succeeded()
        XCTAssertFalse(breaker.isOpen)
        XCTAssertEqual(breaker.admit(now: start + .seconds(11)), .allow)
        // Corrupt data is counted, not an outage.
        breaker.failed(CacheStoreError(code: .corrupt, detail: "x"), outage: false, now: start + .seconds(12))
        XCTAssertFalse(breaker.isOpen)
        // After closing, the back-off starts again from the base.
        breaker.failed(error, outage: true, now: start + .seconds(20))
        XCTAssertEqual(breaker.admit(now: start + .seconds(21)), .allow)
    }
}
