import NIOCore
import XCTest

@testable import TernRedis

final class RESPDecoderTests: XCTestCase {
    private func decodeAll(_ text: String, limits: RESPDecoder.Limits = .init()) throws -> [RESPValue] {
        var decoder = RESPDecoder(limits: limits)
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        while let value = try decoder.decode(&buffer) { values.append(value) }
        XCTAssertEqual(buffer.readableBytes, 0, "bytes left over")
        return values
    }

    private func decodeOne(_ text: String) throws -> RESPValue {
        let values = try decodeAll(text)
        XCTAssertEqual(values.count, 1)
        return try XCTUnwrap(values.first)
    }

    private func assertError(_ text: String, _ reason: RESPDecodingError.Reason, limits: RESPDecoder.Limits = .init(), line: UInt = #line) {
        var decoder = RESPDecoder(limits: limits)
        var buffer = ByteBuffer(string: text)
        do {
            while try decoder.decode(&buffer) != nil {}
            XCTFail("no error for \(text.debugDescription)", line: line)
        } catch {
            XCTAssertEqual(error.reason, reason, line: line)
        }
    }

    private func bulk(_ s: String) -> RESPValue { .bulkString(ByteBuffer(string: s)) }

    func testRESP2Scalars() throws {
        XCTAssertEqual(try decodeOne("+OK\r\n"), .simpleString(ByteBuffer(string: "OK")))
        XCTAssertEqual(try decodeOne("-ERR bad\r\n"), .error(ByteBuffer(string: "ERR bad")))
        XCTAssertEqual(try decodeOne(":42\r\n"), .integer(42))
        XCTAssertEqual(try decodeOne(":-9223372036854775808\r\n"), .integer(Int.min))
        XCTAssertEqual(try decodeOne("$5\r\nhello\r\n"), bulk("hello"))
        XCTAssertEqual(try decodeOne("$0\r\n\r\n"), bulk(""))
        XCTAssertEqual(try decodeOne("$-1\r\n"), .null)
        XCTAssertEqual(try decodeOne("*-1\r\n"), .null)
        // Binary-safe: CR LF inside a bulk string.
        XCTAssertEqual(try decodeOne("$4\r\na\r\nb\r\n"), bulk("a\r\nb"))
    }

    func testRESP3Scalars() throws {
        XCTAssertEqual(try decodeOne("_\r\n"), .null)
        XCTAssertEqual(try decodeOne("#t\r\n"), .boolean(true))
        XCTAssertEqual(try decodeOne("#f\r\n"), .boolean(false))
        XCTAssertEqual(try decodeOne(",3.25\r\n"), .double(3.25))
        XCTAssertEqual(try decodeOne(",inf\r\n"), .double(.infinity))
        XCTAssertEqual(try decodeOne(",-inf\r\n"), .double(-.infinity))
        XCTAssertEqual(try decodeOne("(3492890328409238509324850943850943825024385\r\n"),
                       .bigNumber(ByteBuffer(string: "3492890328409238509324850943850943825024385")))
        XCTAssertEqual(try decodeOne("!21\r\nSYNTAX invalid syntax\r\n"), .error(ByteBuffer(string: "SYNTAX invalid syntax")))
        XCTAssertEqual(try decodeOne("=15\r\ntxt:Some string\r\n"), bulk("Some string"))
    }

    func testAggregates() throws {
        XCTAssertEqual(try decodeOne("*2\r\n$3\r\nfoo\r\n:1\r\n"), .array([bulk("foo"), .integer(1)]))
        XCTAssertEqual(try decodeOne("*0\r\n"), .array([]))
        XCTAssertEqual(try decodeOne("*2\r\n*1\r\n:1\r\n*0\r\n"), .array([.array([.integer(1)]), .array([])]))
        XCTAssertEqual(try decodeOne("~2\r\n+a\r\n+b\r\n"), .set([.simpleString(ByteBuffer(string: "a")), .simpleString(ByteBuffer(string: "b"))]))
        XCTAssertEqual(try decodeOne(">2\r\n+message\r\n:1\r\n"), .push([.simpleString(ByteBuffer(string: "message")), .integer(1)]))
        let map = try decodeOne("%2\r\n+first\r\n:1\r\n+second\r\n*1\r\n:2\r\n")
        guard case .map(let pairs) = map else { return XCTFail("not a map: \(map)") }
        XCTAssertEqual(pairs.count, 2)
        XCTAssertEqual(pairs[0].key.string, "first")
        XCTAssertEqual(pairs[1].value, .array([.integer(2)]))
        XCTAssertEqual(map.pairs?.count, 2)
    }

    func testAttributesAreDropped() throws {
        // An attribute before a reply, and one inside an array before an element.
        XCTAssertEqual(try decodeOne("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n:7\r\n"), .integer(7))
        XCTAssertEqual(try decodeOne("*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n"), .array([.integer(1), .integer(2)]))
    }

    func testPipelinedRepliesAndByteByByte() throws {
        let text = "+OK\r\n$3\r\nbar\r\n*2\r\n:1\r\n$-1\r\n%1\r\n+k\r\n#t\r\n_\r\n"
        let whole = try decodeAll(text)
        XCTAssertEqual(whole.count, 5)
        // The same bytes one at a time give the same replies.
        var decoder = RESPDecoder()
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        for byte in text.utf8 {
            buffer.writeInteger(byte)
            while let value = try decoder.decode(&buffer) { values.append(value) }
        }
        XCTAssertEqual(values, whole)
        XCTAssertFalse(decoder.isMidReply)
    }

    func testIncompleteInputWaitsWithoutConsuming() throws {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: "$10\r\nhello")
        XCTAssertNil(try decoder.decode(&buffer))
        XCTAssertEqual(buffer.readableBytes, 10)
        buffer.writeString("world\r\n")
        XCTAssertEqual(try decoder.decode(&buffer), bulk("helloworld"))

        buffer = ByteBuffer(string: "*3\r\n:1\r\n:2")
        XCTAssertNil(try decoder.decode(&buffer))
        XCTAssertTrue(decoder.isMidReply)
        // The finished elements were taken; only the unfinished one waits.
        XCTAssertEqual(buffer.readableBytes, 2)
        buffer.writeString("\r\n:3\r\n")
        XCTAssertEqual(try decoder.decode(&buffer), .array([.integer(1), .integer(2), .integer(3)]))
    }

    func testMalformedInput() {
        assertError("?what\r\n", .unknownType)
        assertError("+OK\rX", .missingLineFeed)
        assertError(":12a\r\n", .invalidInteger)
        assertError(":99999999999999999999\r\n", .invalidInteger)
        assertError(":\r\n", .invalidInteger)
        assertError("$-2\r\n", .invalidLength)
        assertError("$abc\r\n", .invalidLength)
        assertError("$3\r\nfooXX", .missingLineFeed)
        assertError("*-5\r\n", .invalidLength)
        assertError("%-1\r\n", .invalidLength)
        assertError("_x\r\n", .invalidNull)
        assertError("#x\r\n", .invalidBoolean)
        assertError(",abc\r\n", .invalidDouble)
        assertError("(12a\r\n", .invalidBigNumber)
        assertError("=3\r\nabc\r\n", .invalidVerbatimString)
        assertError("$?\r\n", .streamedTypeUnsupported)
        assertError("*?\r\n", .streamedTypeUnsupported)
        assertError("!-1\r\n", .invalidLength)
    }

    func testLimits() {
        let limits = RESPDecoder.Limits(maxDepth: 3, maxBulkLength: 10, maxAggregateCount: 4, maxLineLength: 16)
        assertError("$11\r\n", .bulkTooLong, limits: limits)
        assertError("*5\r\n", .aggregateTooLarge, limits: limits)
        assertError("%3\r\n", .aggregateTooLarge, limits: limits)
        assertError("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", .nestedTooDeep, limits: limits)
        assertError("+" + String(repeating: "a", count: 40), .lineTooLong, limits: limits)
        assertError("*9223372036854775807\r\n", .aggregateTooLarge)
        assertError("%9223372036854775807\r\n", .aggregateTooLarge)
        assertError("$9223372036854775807\r\n", .bulkTooLong)
        XCTAssertEqual(try decodeAll("*1\r\n*1\r\n*1\r\n:1\r\n", limits: limits).count, 1)
    }

    func testValueAccessors() {
        XCTAssertEqual(RESPValue.bulkString(ByteBuffer(string: "12")).int, 12)
        XCTAssertEqual(RESPValue.integer(3).string, "3")
        XCTAssertNil(RESPValue.null.string)
        XCTAssertEqual(RESPValue.array([.integer(1), .integer(2)]).pairs?.count, 1)
        XCTAssertTrue(RESPValue.null.isNull)
    }
}
