import XCTest

@testable import TernProxy

/// The cache key names entries in Redis, so its hash must not change from one build to the next.
final class CacheKeyTests: XCTestCase {
    /// The first implementation, kept as the reference.
    static func reference(_ uri: String) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x6c62_272e_07bb_0142
        for byte in uri.utf8 {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = (b ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = b ^ (b >> 29)
        }
        func hex(_ value: UInt64) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }
        return hex(a) + hex(b)
    }

    func testHashAndURI() {
        for uri in ["", "http://a/", "https://example.com/api/users?id=1", String(repeating: "x", count: 3000)] {
            XCTAssertEqual(CacheKey(uri: uri).hash, Self.reference(uri), uri)
        }
        XCTAssertEqual(CacheKey(uri: "").hash, "cbf29ce4842223256c62272e07bb0142")
        XCTAssertEqual(CacheKey(scheme: "http", host: "Example.COM:8080", target: "/A?b=C").uri, "http://example.com:8080/A?b=C")
        XCTAssertEqual(CacheKey(scheme: "https", host: "x", target: "/").uri, "https://x/")
        XCTAssertEqual(CacheKey(scheme: "http", host: "", target: "*").uri, "http://*")
    }
}
