import NIOCore
import XCTest

@testable import TernRedis

final class RedisConfigurationTests: XCTestCase {
    func testURLs() throws {
        var c = try RedisConfiguration(url: "redis://127.0.0.1:6380/2")
        XCTAssertEqual(c.endpoints, [.tcp(host: "127.0.0.1", port: 6380)])
        XCTAssertEqual(c.database, 2)
        XCTAssertNil(c.tls)
        XCTAssertNil(c.password)

        c = try RedisConfiguration(url: "redis://alice:p%40ss%3Aword@cache.example:7000")
        XCTAssertEqual(c.username, "alice")
        XCTAssertEqual(c.password, "p@ss:word")
        XCTAssertEqual(c.endpoints, [.tcp(host: "cache.example", port: 7000)])

        c = try RedisConfiguration(url: "redis://:secret@localhost")
        XCTAssertNil(c.username)
        XCTAssertEqual(c.password, "secret")
        XCTAssertEqual(c.endpoints, [.tcp(host: "localhost", port: 6379)])

        c = try RedisConfiguration(url: "rediss://[::1]:6390/0?name=tern&protocol=2")
        XCTAssertNotNil(c.tls)
        XCTAssertEqual(c.endpoints, [.tcp(host: "::1", port: 6390)])
        XCTAssertEqual(c.clientName, "tern")
        XCTAssertEqual(c.protocolVersion, .resp2)

        c = try RedisConfiguration(url: "unix:///var/run/redis.sock?db=3")
        XCTAssertEqual(c.endpoints, [.unixSocket(path: "/var/run/redis.sock")])
        XCTAssertEqual(c.database, 3)

        c = try RedisConfiguration(url: "redis+unix://:pw@/tmp/r.sock")
        XCTAssertEqual(c.endpoints, [.unixSocket(path: "/tmp/r.sock")])
        XCTAssertEqual(c.password, "pw")

        c = try RedisConfiguration(url: "/tmp/redis.sock")
        XCTAssertEqual(c.endpoints, [.unixSocket(path: "/tmp/redis.sock")])

        c = try RedisConfiguration(clusterURLs: ["redis://a:7000", "redis://b:7001"])
        XCTAssertTrue(c.cluster)
        XCTAssertEqual(c.endpoints, [.tcp(host: "a", port: 7000), .tcp(host: "b", port: 7001)])
    }

    func testBadURLs() {
        for url in ["http://x", "redis://", "redis://h:0", "redis://h:70000", "redis://h/x", "redis://h?bogus=1",
                    "redis://h?protocol=4", "nonsense", "unix://"] {
            XCTAssertThrowsError(try RedisConfiguration(url: url), url) { error in
                XCTAssertEqual((error as? RedisError)?.code, .invalidConfiguration)
            }
        }
        // The password never appears in the error.
        XCTAssertThrowsError(try RedisConfiguration(url: "redis://u:hunter2@h:99999")) { error in
            XCTAssertFalse("\(error)".contains("hunter2"))
        }
    }

    func testClusterMustUseDatabaseZero() {
        var c = RedisConfiguration(endpoints: [.tcp(host: "a", port: 1)], cluster: true)
        c.database = 1
        XCTAssertThrowsError(try c.validate())
    }
}
