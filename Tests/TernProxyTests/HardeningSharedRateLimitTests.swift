import Foundation
import NIOCore
import TernTestSupport
import XCTest

@testable import TernProxy

/// `rate-limit` with the cache in Redis: the buckets are in Redis, so proxies that share the cache
/// share each client's budget; requests wait for Redis's answer in order; Redis down falls back to
/// each proxy's own bucket and never refuses a request because of Redis.
final class HardeningSharedRateLimitTests: RedisProxyTestCase {
    func limitedProxy(_ origin: TestOrigin, _ limit: String) async throws -> Int {
        try await self.proxy(
            """
            cache \(self.redis.url)/0
            cache-store-timeout 200ms
            limits { rate-limit \(limit) }
            route / { proxy http://127.0.0.1:\(origin.port) }
            """
        ).port
    }

    /// One request on a fresh connection: the status and `Retry-After`.
    func status(_ port: Int, _ path: String) throws -> (Int, String?) {
        let connection = try RawConnection(port: port)
        connection.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = connection.readResponses(1).first
        return (response?.status ?? 0, response?.header("retry-after"))
    }

    func testTwoProxiesShareOneBucketPerClient() async throws {
        let origin = try await self.origin("o")
        let a = try await self.limitedProxy(origin, "1r/m burst=4")
        let b = try await self.limitedProxy(origin, "1r/m burst=4")
        var statuses: [Int] = []
        var retryAfter: String?
        for index in 0..<6 {
            let (status, wait) = try self.status(index % 2 == 0 ? a : b, "/\(index)")
            statuses.append(status)
            if status == 429 { retryAfter = wait }
        }
        XCTAssertEqual(statuses, [200, 200, 200, 200, 429, 429], "four tokens between both proxies, not four each")
        XCTAssertEqual(origin.requests, 4)
        XCTAssertEqual(retryAfter, "60", "one token a minute: the wait comes from Redis's bucket")
        let bucket = try self.redis.cli(["HGET", "tern:rl:0.016666666666666666:4:{127.0.0.1}", "t"])
        // Empty but for what refilled since (a token a minute): a small number, which Lua may print
        // as `9.18e-05` when the requests were quick.
        XCTAssertLessThan(Double(bucket.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 1, 0.5, "the bucket is in Redis, empty: \(bucket)")

        // `local`: each proxy its own bucket again.
        let c = try await self.limitedProxy(origin, "1r/m burst=2 local")
        let d = try await self.limitedProxy(origin, "1r/m burst=2 local")
        let local = try [c, c, d, d, c].map { try self.status($0, "/local").0 }
        XCTAssertEqual(local, [200, 200, 200, 200, 429])
    }

    func testPipelinedRequestsWaitForRedisInOrder() async throws {
        let origin = try await self.origin("o")
        let port = try await self.limitedProxy(origin, "1r/m burst=3")
        let connection = try RawConnection(port: port)
        // One write: a GET, a POST with a body, a GET, and a fourth that is over the limit. Each
        // head waits for Redis while the parts behind it are held, and all go on in order.
        connection.send(
            "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                + "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                + "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /4 HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = connection.readResponses(4)
        XCTAssertEqual(responses.map(\.status), [200, 200, 200, 429])
        XCTAssertEqual(responses.first?.header("connection"), nil)
        XCTAssertEqual(responses.last?.header("connection"), "close")
        XCTAssertTrue(connection.isClosed(), "closed after the refusal")
        XCTAssertEqual(origin.requests, 3)
        XCTAssertEqual(origin.requests(for: "/2"), 1)
    }

    func testRedisDownFallsBackToTheLocalBucket() async throws {
        let origin = try await self.origin("o")
        let port = try await self.limitedProxy(origin, "1r/m burst=2")
        XCTAssertEqual(try self.status(port, "/up").0, 200)
        self.redis.stop()
        // Redis gone: this proxy's own bucket (full, it was not used) decides; nothing fails
        // because of Redis, and nothing waits long for it.
        let start = ContinuousClock.now
        let statuses = try (0..<3).map { try self.status(port, "/down\($0)").0 }
        XCTAssertEqual(statuses, [200, 200, 429])
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(3))
    }

    func testRateLimitLocalParses() throws {
        let configuration = try ProxyConfiguration.parse(
            "listen tcp:8080\nlimits { rate-limit 5r/s burst=9 local }\nroute / { respond 200 }", file: "t.conf", baseDirectory: "/")
        XCTAssertEqual(configuration.limits.rateLimit, .init(requestsPerSecond: 5, burst: 9, local: true))
        let reordered = try ProxyConfiguration.parse(
            "listen tcp:8080\nlimits { rate-limit 5r/s local burst=9 }\nroute / { respond 200 }", file: "t.conf", baseDirectory: "/")
        XCTAssertEqual(reordered.limits.rateLimit, .init(requestsPerSecond: 5, burst: 9, local: true))
        XCTAssertThrowsError(
            try ProxyConfiguration.parse(
                "listen tcp:8080\nlimits { rate-limit 5r/s local local }\nroute / { respond 200 }", file: "t.conf", baseDirectory: "/")
        ) { error in
            XCTAssertTrue("\(error)".contains("t.conf:2:32: expected burst=COUNT, got 'local'"), "\(error)")
        }
    }
}
