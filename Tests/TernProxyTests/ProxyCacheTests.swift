import Foundation
import HTTPTypes
import NIOCore
import TernClient
import TernTestSupport
import XCTest

@testable import TernProxy

/// The cache end to end: a real origin, a real proxy with `cache memory`, real requests. Each
/// test counts what reached the origin.
final class ProxyCacheTests: ProxyTestCase {
    /// `/c/NAME?h=…` with the given response header fields, percent-encoded.
    func shaped(_ name: String, _ fields: [String], _ extra: String = "") -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = fields.map { "h=" + $0.addingPercentEncoding(withAllowedCharacters: allowed)! }
        return "/c/\(name)?" + (query + (extra.isEmpty ? [] : [extra])).joined(separator: "&")
    }

    func cachingProxy(_ origin: TestOrigin, extra: String = "") async throws -> Int {
        try await self.proxy(
            """
            cache memory 64m
            \(extra)
            route / { proxy http://127.0.0.1:\(origin.port) }
            """
        ).port
    }

    static func body(_ client: Agent, _ port: Int, _ path: String) async throws -> String {
        try await client.execute(Request(url: "http://127.0.0.1:\(port)\(path)")).string(upTo: 64 << 20)
    }

    func header(_ response: Response, _ name: String) -> String? {
        response.headerFields[HTTPField.Name(name)!]
    }

    func testMissThenHitWithCacheStatusAndAge() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("a", ["Cache-Control: max-age=60"])
        let (status1, body1, first) = try await self.get(port, path)
        XCTAssertEqual(status1, 200)
        XCTAssertEqual(body1, "o 1\n")
        XCTAssertEqual(self.header(first, "Cache-Status"), "tern; fwd=uri-miss; fwd-status=200; stored")
        let (status2, body2, second) = try await self.get(port, path)
        XCTAssertEqual(status2, 200)
        XCTAssertEqual(body2, "o 1\n")
        XCTAssertEqual(origin.requests(for: path), 1)
        let cacheStatus = try XCTUnwrap(self.header(second, "Cache-Status"))
        XCTAssertTrue(cacheStatus.hasPrefix("tern; hit; ttl="), cacheStatus)
        XCTAssertNotNil(self.header(second, "Age").flatMap(Int.init))
        XCTAssertEqual(self.header(second, "Content-Length"), "4")
    }

    func testNoStoreAndRouteCacheOffAreNotCached() async throws {
        let origin = try await self.origin("o")
        let port = try await self.proxy(
            """
            cache memory 64m
            route /off/ { proxy http://127.0.0.1:\(origin.port); strip-prefix /off; cache off }
            route / { proxy http://127.0.0.1:\(origin.port) }
            """
        ).port
        let noStore = self.shaped("ns", ["Cache-Control: no-store, max-age=60"])
        _ = try await self.get(port, noStore)
        let (_, body, response) = try await self.get(port, noStore)
        XCTAssertEqual(body, "o 2\n")
        XCTAssertEqual(origin.requests(for: noStore), 2)
        XCTAssertFalse(self.header(response, "Cache-Status")?.contains("stored") ?? false)

        let cacheable = self.shaped("off", ["Cache-Control: max-age=60"])
        _ = try await self.get(port, "/off" + cacheable)
        let (_, offBody, offResponse) = try await self.get(port, "/off" + cacheable)
        XCTAssertEqual(offBody, "o 2\n")
        XCTAssertNil(self.header(offResponse, "Cache-Status"))
    }

    func testRequestNoStoreAndNoCache() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("rq", ["Cache-Control: max-age=60", "ETag: \"v1\""])
        _ = try await self.get(port, path, headers: [("Cache-Control", "no-store")])
        _ = try await self.get(port, path)  // stored now
        XCTAssertEqual(origin.requests(for: path), 2)
        // no-cache: must revalidate with the origin; the origin's 304 lets the stored body be used.
        let (status, body, response) = try await self.get(port, path, headers: [("Cache-Control", "no-cache")])
        XCTAssertEqual(status, 200)
        XCTAssertEqual(body, "o 2\n")
        XCTAssertEqual(origin.requests(for: path), 3)
        XCTAssertEqual(self.header(response, "Cache-Status"), "tern; fwd=stale; fwd-status=304")
    }

    func testStaleEntryIsRevalidatedWithETag() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("etag", ["Cache-Control: max-age=0", "ETag: \"abc\"", "X-Version: 1"])
        let (_, first, _) = try await self.get(port, path)
        XCTAssertEqual(first, "o 1\n")
        let (status, body, response) = try await self.get(port, path)
        XCTAssertEqual(status, 200)
        XCTAssertEqual(body, "o 1\n", "the stored body, revalidated by a 304")
        XCTAssertEqual(origin.requests(for: path), 2)
        XCTAssertEqual(self.header(response, "Cache-Status"), "tern; fwd=stale; fwd-status=304")
    }

    func testConditionalRequestAnsweredFromCache() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("cond", ["Cache-Control: max-age=60", "ETag: \"e1\""])
        _ = try await self.get(port, path)
        let (status, body, response) = try await self.get(port, path, headers: [("If-None-Match", "\"e1\"")])
        XCTAssertEqual(status, 304)
        XCTAssertEqual(body, "")
        XCTAssertEqual(self.header(response, "ETag"), "\"e1\"")
        let (status2, _, _) = try await self.get(port, path, headers: [("If-None-Match", "\"other\"")])
        XCTAssertEqual(status2, 200)
        XCTAssertEqual(origin.requests(for: path), 1)
    }

    /// A memory-tier hit writes the stored fields as they were kept written out, then its own: its
    /// head is the miss's, field for field and in order (but the values of `Age` and
    /// `Cache-Status`), an empty value and a long one included; a HEAD's is the same without the body.
    func testAHitsHeadIsTheStoredFieldsThenItsOwn() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let long = String(repeating: "v", count: 300)
        let path = self.shaped("lines", ["Cache-Control: max-age=60", "ETag: \"e1\"", "X-Empty:", "X-Long: \(long)"])
        func exchange(_ method: String) throws -> (status: String, fields: [String], body: String) {
            let reply = try rawExchange(port: port, send: "\(method) \(path) HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            let parts = reply.components(separatedBy: "\r\n\r\n")
            var lines = parts[0].components(separatedBy: "\r\n")
            let status = lines.removeFirst()
            let fields = lines.map { line in
                for name in ["age: ", "cache-status: "] where line.lowercased().hasPrefix(name) { return String(line.prefix(name.count)) }
                return line
            }
            return (status, fields, parts.dropFirst().joined(separator: "\r\n\r\n"))
        }
        let miss = try exchange("GET")
        let hit = try exchange("GET")
        let head = try exchange("HEAD")
        XCTAssertEqual(origin.requests(for: path), 1)
        XCTAssertEqual(miss.status, "HTTP/1.1 200 OK")
        XCTAssertEqual(hit.status, "HTTP/1.1 200 OK")
        XCTAssertEqual(hit.body, "o 1\n")
        XCTAssertTrue(hit.fields.contains("X-Empty: "), "\(hit.fields)")
        XCTAssertTrue(hit.fields.contains("X-Long: \(long)"), "\(hit.fields)")
        XCTAssertEqual(hit.fields, miss.fields)
        XCTAssertEqual(head.fields, hit.fields)
        XCTAssertEqual(head.body, "")
    }

    /// A miss fills the cache with the whole response: the client's conditions and range stay off
    /// the upstream request (which otherwise passes the client's lines on as they came), so the
    /// origin answers 200 in full, that is stored, and the next request is a hit.
    func testConditionsAndRangesOnAMissAreNotSentUpstream() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        for (name, field) in [("inm", ("If-None-Match", "\"e1\"")), ("range", ("Range", "bytes=0-1")), ("ims", ("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"))] {
            let path = self.shaped(name, ["Cache-Control: max-age=60", "ETag: \"e1\"", "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT"])
            let (status, _, response) = try await self.get(port, path, headers: [field, ("Accept", "text/plain")])
            XCTAssertTrue([200, 206, 304].contains(status), "\(name): \(status)")
            XCTAssertEqual(self.header(response, "Cache-Status")?.contains("fwd-status=200; stored"), true, "\(name): the origin saw no condition")
            let (again, body, hit) = try await self.get(port, path)
            XCTAssertEqual(again, 200, name)
            XCTAssertEqual(body, "o 1\n", name)
            XCTAssertEqual(self.header(hit, "Cache-Status")?.hasPrefix("tern; hit"), true, name)
            XCTAssertEqual(origin.requests(for: path), 1, name)
        }
    }

    func testHeadAnsweredFromStoredGet() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("head", ["Cache-Control: max-age=60"])
        _ = try await self.get(port, path)
        var request = Request(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .head
        let response = try await self.client.execute(request)
        XCTAssertEqual(response.status.code, 200)
        XCTAssertEqual(self.header(response, "Content-Length"), "4")
        XCTAssertTrue(self.header(response, "Cache-Status")?.contains("hit") ?? false)
        XCTAssertEqual(origin.requests(for: path), 1)
    }

    func testUnsafeMethodInvalidates() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("inv", ["Cache-Control: max-age=60"])
        _ = try await self.get(port, path)
        var post = Request(url: "http://127.0.0.1:\(port)\(path)")
        post.method = .post
        post.body = .bytes(ByteBuffer(string: "x"))
        _ = try await self.client.execute(post).string(upTo: 1 << 20)
        let (_, body, _) = try await self.get(port, path)
        XCTAssertEqual(body, "o 3\n", "the POST invalidated the stored GET")
    }

    func testPurgeFromLoopbackAndRefusedElsewhere() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("purge", ["Cache-Control: max-age=60"])
        _ = try await self.get(port, path)
        var purge = Request(url: "http://127.0.0.1:\(port)\(path)")
        purge.method = .init("PURGE")!
        let purged = try await self.client.execute(purge)
        _ = try await purged.string(upTo: 1 << 20)
        XCTAssertEqual(purged.status.code, 200)
        let again = try await self.client.execute(purge)
        _ = try await again.string(upTo: 1 << 20)
        XCTAssertEqual(again.status.code, 404)
        let (_, body, _) = try await self.get(port, path)
        XCTAssertEqual(body, "o 2\n")

        let guarded = try await self.cachingProxy(origin, extra: "purge-allow 10.0.0.0/8")
        var refused = Request(url: "http://127.0.0.1:\(guarded)\(path)")
        refused.method = .init("PURGE")!
        let answer = try await self.client.execute(refused)
        _ = try await answer.string(upTo: 1 << 20)
        XCTAssertEqual(answer.status.code, 403)
    }

    func testConcurrentMissesAreCoalesced() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("herd", ["Cache-Control: max-age=60"], "delay=200")
        let client = self.client
        let bodies = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<100 { group.addTask { try await Self.body(client, port, path) } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        XCTAssertEqual(bodies.count, 100)
        XCTAssertEqual(Set(bodies), ["o 1\n"])
        XCTAssertEqual(origin.requests(for: path), 1)
    }

    func testNotStorableResponsesAreNotSerialized() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("private", ["Cache-Control: private"], "delay=300")
        let start = ContinuousClock.now
        _ = try await self.get(port, path)  // leaves a pass marker
        let client = self.client
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 { group.addTask { _ = try await Self.body(client, port, path) } }
            try await group.waitForAll()
        }
        XCTAssertEqual(origin.requests(for: path), 11)
        // Serialized behind one another they would take 10 × 300 ms.
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2.5))
    }

    func testLargeBodyStoredAndServedWhole() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("big", ["Cache-Control: max-age=60"], "size=3000000")
        let (_, first, _) = try await self.get(port, path)
        let (_, second, response) = try await self.get(port, path)
        XCTAssertEqual(first.utf8.count, 3_000_000)
        XCTAssertEqual(second, first)
        XCTAssertTrue(self.header(response, "Cache-Status")?.contains("hit") ?? false)
        XCTAssertEqual(origin.requests(for: path), 1)
    }

    func testVaryKeepsVariantsApart() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("vary", ["Cache-Control: max-age=60", "Vary: Accept-Language"])
        let (_, en1, _) = try await self.get(port, path, headers: [("Accept-Language", "en")])
        let (_, fr1, _) = try await self.get(port, path, headers: [("Accept-Language", "fr")])
        let (_, en2, enResponse) = try await self.get(port, path, headers: [("Accept-Language", "en")])
        let (_, fr2, _) = try await self.get(port, path, headers: [("Accept-Language", "fr")])
        let (_, none1, _) = try await self.get(port, path)
        let (_, none2, _) = try await self.get(port, path)
        XCTAssertEqual([en1, fr1, none1], ["o 1\n", "o 2\n", "o 3\n"])
        XCTAssertEqual(en2, en1)
        XCTAssertEqual(fr2, fr1)
        XCTAssertEqual(none2, none1)
        XCTAssertTrue(self.header(enResponse, "Cache-Status")?.contains("hit") ?? false)
        XCTAssertEqual(origin.requests(for: path), 3)
        let star = self.shaped("star", ["Cache-Control: max-age=60", "Vary: *"])
        _ = try await self.get(port, star)
        _ = try await self.get(port, star)
        XCTAssertEqual(origin.requests(for: star), 2, "Vary: * is never reused")
    }

    func testRangeAnsweredFromStoredResponse() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("range", ["Cache-Control: max-age=60"], "size=100000")
        _ = try await self.get(port, path)
        let (status, body, response) = try await self.get(port, path, headers: [("Range", "bytes=10-19")])
        XCTAssertEqual(status, 206)
        XCTAssertEqual(body, "0123456789")
        XCTAssertEqual(self.header(response, "Content-Range"), "bytes 10-19/100000")
        let (tailStatus, tail, _) = try await self.get(port, path, headers: [("Range", "bytes=-5")])
        XCTAssertEqual(tailStatus, 206)
        XCTAssertEqual(tail, "56789")
        let (bad, _, badResponse) = try await self.get(port, path, headers: [("Range", "bytes=100000-")])
        XCTAssertEqual(bad, 416)
        XCTAssertEqual(self.header(badResponse, "Content-Range"), "bytes */100000")
        XCTAssertEqual(origin.requests(for: path), 1)
    }

    func testStaleWhileRevalidateServesStaleAndRefreshes() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        // The refreshed entry lives for 60 s, so it cannot turn stale while the test polls for
        // it (a second background revalidation would make the count below racy).
        let path = self.shaped("swr", ["Cache-Control: max-age=1, stale-while-revalidate=60"]) + "&later=" + "Cache-Control:max-age=60"
        _ = try await self.get(port, path)
        try await Task.sleep(for: .milliseconds(2100))
        let (_, stale, response) = try await self.get(port, path)
        XCTAssertEqual(stale, "o 1\n", "served stale at once")
        XCTAssertTrue(self.header(response, "Cache-Status")?.contains("hit") ?? false)
        // The background revalidation stores the second answer.
        var fresh = ""
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(20))
            fresh = try await self.get(port, path).1
            if fresh == "o 2\n" { break }
        }
        XCTAssertEqual(fresh, "o 2\n")
        XCTAssertEqual(origin.requests(for: path), 2)
    }

    func testStaleIfErrorServesStaleWhenTheOriginFails() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let path = self.shaped("sie", ["Cache-Control: max-age=1, stale-if-error=60", "ETag: \"x\""])
        let plain = self.shaped("nosie", ["Cache-Control: max-age=1", "ETag: \"y\""])
        _ = try await self.get(port, path)
        _ = try await self.get(port, plain)
        try await Task.sleep(for: .milliseconds(2100))
        try await origin.stop()
        let (status, body, response) = try await self.get(port, path)
        XCTAssertEqual(status, 200)
        XCTAssertEqual(body, "o 1\n")
        XCTAssertTrue(self.header(response, "Cache-Status")?.contains("stale-if-error") ?? false, "\(response.headerFields)")
        let (plainStatus, _, _) = try await self.get(port, plain)
        XCTAssertEqual(plainStatus, 502, "without stale-if-error a stale entry is not served when the origin is down")
    }

    func testOnlyIfCachedAndAuthorization() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin)
        let (status, _, _) = try await self.get(port, self.shaped("oic", ["Cache-Control: max-age=60"]), headers: [("Cache-Control", "only-if-cached")])
        XCTAssertEqual(status, 504)
        let secret = self.shaped("auth", ["Cache-Control: max-age=60"])
        _ = try await self.get(port, secret, headers: [("Authorization", "Bearer a")])
        _ = try await self.get(port, secret)
        XCTAssertEqual(origin.requests(for: secret), 2, "a response to an authorized request is not stored without public/s-maxage")
        let shared = self.shaped("authpublic", ["Cache-Control: public, max-age=60"])
        _ = try await self.get(port, shared, headers: [("Authorization", "Bearer a")])
        let (_, body, _) = try await self.get(port, shared)
        XCTAssertEqual(body, "o 1\n")
    }

    func testObjectsOverTheMaximumAreNotStored() async throws {
        let origin = try await self.origin("o")
        let port = try await self.cachingProxy(origin, extra: "cache-max-object 100k")
        let path = self.shaped("huge", ["Cache-Control: max-age=60"], "size=200000")
        let (_, first, _) = try await self.get(port, path)
        let (_, second, _) = try await self.get(port, path)
        XCTAssertEqual(first.utf8.count, 200_000)
        XCTAssertEqual(second, first)
        XCTAssertEqual(origin.requests(for: path), 2)
    }
}
