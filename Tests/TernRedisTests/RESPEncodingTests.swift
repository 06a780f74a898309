import NIOCore
import XCTest

@testable import TernRedis

final class RESPEncodingTests: XCTestCase {
    func testCommandEncoding() {
        var encoder = RedisCommandEncoder("SET", parts: 5, hashesKeys: false)
        encoder.key("key")
        encoder.argument(ByteBuffer(string: "va\r\nl"))
        encoder.argument("PX" as StaticString)
        encoder.argument(-1500)
        XCTAssertEqual(String(buffer: encoder.command.bytes), "*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n$2\r\nPX\r\n$5\r\n-1500\r\n")
        XCTAssertEqual(encoder.command.routing, .any)

        let generic = RedisCommand.generic("HSET", ["h", "f", 10, 1.5, .bytes(ByteBuffer(string: "é"))], hashesKeys: false)
        XCTAssertEqual(String(buffer: generic.bytes), "*6\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$2\r\n10\r\n$3\r\n1.5\r\n$2\r\né\r\n")
    }

    func testDecimals() {
        for value in [0, 7, 9, 10, 99, 100, 12345, -1, -10, Int.max, Int.min] {
            var buffer = ByteBuffer()
            buffer.writeDecimal(value)
            XCTAssertEqual(String(buffer: buffer), String(value))
            XCTAssertEqual(ByteBuffer.decimalLength(value), String(value).utf8.count)
        }
    }

    func testHashSlots() {
        XCTAssertEqual(Array("123456789".utf8).withUnsafeBytes { HashSlot.crc16($0[...]) }, 0x31C3)
        XCTAssertEqual(HashSlot.slot("foo"), 12182)
        XCTAssertEqual(HashSlot.slot("somekey"), 11058)
        XCTAssertEqual(HashSlot.slot("{user1000}.following"), HashSlot.slot("{user1000}.followers"))
        XCTAssertEqual(HashSlot.slot("{user1000}.following"), HashSlot.slot("user1000"))
        XCTAssertEqual(HashSlot.slot("foo{}{bar}"), HashSlot.slot("foo{}{bar}"))
        XCTAssertNotEqual(HashSlot.slot("foo{}{bar}"), HashSlot.slot("bar"))
        XCTAssertEqual(HashSlot.slot("foo{{bar}}zap"), HashSlot.slot("{bar"))
        XCTAssertEqual(HashSlot.slot("foo{bar}{zap}"), HashSlot.slot("bar"))
    }

    func testClusterRoutingOfCommands() {
        var encoder = RedisCommandEncoder("MGET", parts: 3, hashesKeys: true)
        encoder.key("{a}1")
        encoder.key("{a}2")
        XCTAssertEqual(encoder.command.routing, .slot(HashSlot.slot("a")))
        encoder.key("b")
        XCTAssertEqual(encoder.command.routing, .crossSlot)

        XCTAssertEqual(RedisCommandKeys.routing(command: "get", arguments: ["foo"]), .slot(12182))
        XCTAssertEqual(RedisCommandKeys.routing(command: "PING", arguments: []), .any)
        XCTAssertEqual(RedisCommandKeys.routing(command: "MSET", arguments: ["{x}a", "1", "{x}b", "2"]), .slot(HashSlot.slot("x")))
        XCTAssertEqual(RedisCommandKeys.routing(command: "MSET", arguments: ["a", "1", "b", "2"]), .crossSlot)
        XCTAssertEqual(RedisCommandKeys.routing(command: "FCALL", arguments: ["f", 1, "foo", "bar"]), .slot(12182))
        XCTAssertEqual(RedisCommandKeys.routing(command: "FCALL", arguments: ["f", 0, "foo"]), .any)
        XCTAssertEqual(RedisCommandKeys.routing(command: "BLPOP", arguments: ["foo", 5]), .slot(12182))
    }

    func testRedirectParsing() {
        let moved = ClusterRedirect(RedisError.server("MOVED 3999 127.0.0.1:6381", address: "127.0.0.1:6379"))
        XCTAssertEqual(moved, ClusterRedirect(kind: .moved, slot: 3999, endpoint: .tcp(host: "127.0.0.1", port: 6381)))
        let ask = ClusterRedirect(RedisError.server("ASK 1 [::1]:7000", address: nil))
        XCTAssertEqual(ask?.kind, .ask)
        XCTAssertEqual(ask?.endpoint, .tcp(host: "::1", port: 7000))
        let unknownHost = ClusterRedirect(RedisError.server("MOVED 12 :7001", address: "10.0.0.1:7000"))
        XCTAssertEqual(unknownHost?.endpoint, .tcp(host: "10.0.0.1", port: 7001))
        XCTAssertNil(ClusterRedirect(RedisError.server("ERR MOVED", address: nil)))
        XCTAssertNil(ClusterRedirect(RedisError(code: .timeout)))
    }
}

extension ClusterRedirect {
    init(kind: Kind, slot: UInt16, endpoint: RedisEndpoint) {
        self = ClusterRedirect(RedisError.server("MOVED \(slot) \(endpoint)", address: nil))!
        self.kind = kind
    }
}
