import Foundation
import HTTPTypes
import NIOCore
import TernClient
import TernTestSupport
import XCTest

@testable import TernProxy

/// The cache shared through a real redis-server by two proxy instances: coalescing across them,
/// a purge seen by both, and Redis killed and restarted mid-run.
final class ProxyCacheRedisTests: RedisProxyTestCase {
    func shaped(_ name: String, _ fields: [String], _ extra: String = "") -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = fields.map { "h=" + $0.addingPercentEncoding(withAllowedCharacters: allowed)! }
        return "/c/\(name)?" + (query + (extra.isEmpty ? [] : [extra])).joined(separator: "&")
    }

    func redisProxy(_ origin: TestOrigin, tier: String = "memory-tier=16m") async throws -> Int {
        try await self.proxy(
            """
            cache \(self.redis.url)/0 \(tier)
            cache-store-timeout 200ms
            route / { proxy http://127.0.0.1:\(origin.port) }
            """
        ).port
    }

    /// Proxies behind one name: the cache key is the client-facing URL, Host included, so every
    /// request here says `Host: cache.test` whichever proxy it goes to.
    static let host = "cache.test"

    static func body(_ client: Agent, _ port: Int, _ path: String) async throws -> String {
        var request = Request(url: "http://127.0.0.1:\(port)\(path)")
        request.headerFields[.init("Host")!] = Self.host
        return try await client.execute(request).string(upTo: 64 << 20)
    }

    func get(_ port: Int, _ path: String) async throws -> (Int, String, Response) {
        try await self.get(port, path, host: Self.host)
    }

    func cacheStatus(_ response: Response) -> String {
        response.headerFields[HTTPField.Name("Cache-Status")!] ?? ""
    }

    /// The client has its response before the proxy's commit to Redis is done (the store is
    /// written behind the response): waits until an entry is there, so that another proxy asking
    /// next finds it rather than racing the commit.
    func waitForCommittedEntry() async throws {
        for _ in 0..<100 {
            if !(try self.redis.cli(["KEYS", "tern:*:v"]).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("no cache entry reached Redis within 2 s")
    }

    func testTwoProxiesShareEntriesAndCoalesceMisses() async throws {
        let origin = try await self.origin("o")
        let a = try await self.redisProxy(origin)
        let b = try await self.redisProxy(origin)
        let path = self.shaped("shared", ["Cache-Control: max-age=60"], "delay=300")
        let client = self.client
        let bodies = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<100 { group.addTask { try await Self.body(client, index % 2 == 0 ? a : b, path) } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        XCTAssertEqual(bodies.count, 100)
        XCTAssertEqual(Set(bodies), ["o 1\n"])
        XCTAssertEqual(origin.requests(for: path), 1, "100 concurrent misses over two proxies reach the origin once")
        // A third proxy, started later, finds the entry in Redis.
        let c = try await self.redisProxy(origin, tier: "memory-tier=0")
        let (_, body, response) = try await self.get(c, path)
        XCTAssertEqual(body, "o 1\n")
        XCTAssertTrue(self.cacheStatus(response).contains("hit"), self.cacheStatus(response))
    }

    func testPurgeOnOneProxyIsSeenByTheOther() async throws {
        let origin = try await self.origin("o")
        let a = try await self.redisProxy(origin)
        let b = try await self.redisProxy(origin)
        let path = self.shaped("purge", ["Cache-Control: max-age=60"])
        _ = try await self.get(a, path)
        try await self.waitForCommittedEntry()
        // b takes it into its memory tier.
        let (_, first, _) = try await self.get(b, path)
        let (_, again, hit) = try await self.get(b, path)
        XCTAssertEqual([first, again], ["o 1\n", "o 1\n"])
        XCTAssertTrue(self.cacheStatus(hit).contains("hit"))
        var purge = Request(url: "http://127.0.0.1:\(a)\(path)")
        purge.method = .init("PURGE")!
        purge.headerFields[.init("Host")!] = Self.host
        let purged = try await self.client.execute(purge)
        _ = try await purged.string(upTo: 1 << 20)
        XCTAssertEqual(purged.status.code, 200)
        // The purge reaches b's memory tier through pub/sub.
        var body = ""
        for _ in 0..<50 {
            body = try await self.get(b, path).1
            if body != "o 1\n" { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(body, "o 2\n")
    }

    func testRedisKilledAndRestartedMidRun() async throws {
        let origin = try await self.origin("o")
        let port = try await self.redisProxy(origin, tier: "memory-tier=0")
        let path = self.shaped("outage", ["Cache-Control: max-age=60"])
        _ = try await self.get(port, path)
        let (_, cached, _) = try await self.get(port, path)
        XCTAssertEqual(cached, "o 1\n")

        let redisPort = self.redis.port
        self.redis.stop()
        // Redis down: every request is still answered, as a miss, and quickly.
        let start = ContinuousClock.now
        for round in 0..<5 {
            let (status, body, response) = try await self.get(port, path)
            XCTAssertEqual(status, 200)
            XCTAssertEqual(body, "o \(round + 2)\n")
            XCTAssertFalse(self.cacheStatus(response).contains("hit"))
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(3))

        // Back on the same port: caching resumes by itself.
        self.redis = try RedisServerProcess(port: redisPort)
        var hit = false
        for _ in 0..<60 {
            let (_, _, response) = try await self.get(port, path)
            if self.cacheStatus(response).contains("hit") {
                hit = true
                break
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        XCTAssertTrue(hit, "caching resumed after Redis came back")
    }
}
