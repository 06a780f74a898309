import NIOCore
import XCTest
import TernTestSupport

@testable import TernRedis

final class RedisFunctionTests: XCTestCase {
    func testLibraryShipsAsAResource() {
        XCTAssertTrue(RedisLibrary.source.hasPrefix("#!lua name=tern"))
        XCTAssertTrue(RedisLibrary.source.contains("tern_lease_acquire"))
    }

    func testSetIfNewer() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)
        let value45 = try await client.fcall("tern_version").int
        XCTAssertEqual(value45, 3)
        let value46 = try await client.fcall("tern_set_if_newer", keys: ["entry"], arguments: [5, "five", 0])
        XCTAssertEqual(value46, .integer(1))
        let value47 = try await client.fcall("tern_set_if_newer", keys: ["entry"], arguments: [4, "four", 0])
        XCTAssertEqual(value47, .integer(0))
        let value48 = try await client.fcall("tern_set_if_newer", keys: ["entry"], arguments: [5, "again", 0])
        XCTAssertEqual(value48, .integer(0))
        let stored = try await client.fcall("tern_get_versioned", keys: ["entry"])
        XCTAssertEqual(stored.array?.first?.int, 5)
        XCTAssertEqual(stored.array?.last?.string, "five")
        let value49 = try await client.fcall("tern_set_if_newer", keys: ["entry"], arguments: [6, "six", 60_000])
        XCTAssertEqual(value49, .integer(1))
        let value50 = try await client.send("PTTL", ["entry"]).int ?? 0
        XCTAssertGreaterThan(value50, 0)
        let value51 = try await client.fcall("tern_get_versioned", keys: ["none"]).isNull
        XCTAssertTrue(value51)
        let error = await assertRedisError(.server) { try await client.fcall("tern_set_if_newer", keys: ["entry"], arguments: ["x", "y"]) }
        XCTAssertTrue(error?.message?.contains("version must be a number") == true)
    }

    func testLease() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)
        let value52 = try await client.fcall("tern_lease_acquire", keys: ["lease"], arguments: ["a", 10_000])
        XCTAssertEqual(value52, .integer(1))
        let value53 = try await client.fcall("tern_lease_acquire", keys: ["lease"], arguments: ["b", 10_000])
        XCTAssertEqual(value53, .integer(0))
        let value54 = try await client.fcall("tern_lease_acquire", keys: ["lease"], arguments: ["a", 20_000])
        XCTAssertEqual(value54, .integer(1), "renewal")
        let value55 = try await client.fcall("tern_lease_release", keys: ["lease"], arguments: ["b"])
        XCTAssertEqual(value55, .integer(0))
        let value56 = try await client.fcall("tern_lease_release", keys: ["lease"], arguments: ["a"])
        XCTAssertEqual(value56, .integer(1))
        let value57 = try await client.fcall("tern_lease_acquire", keys: ["lease"], arguments: ["b", 50])
        XCTAssertEqual(value57, .integer(1))
        try await Task.sleep(for: .milliseconds(120))
        let value58 = try await client.fcall("tern_lease_acquire", keys: ["lease"], arguments: ["a", 1000])
        XCTAssertEqual(value58, .integer(1), "expired")
    }

    func testReloadsTheLibraryWhenTheServerLostIt() async throws {
        let server = try startRedis()
        let client = try makeClient(server.url)
        let value59 = try await client.fcall("tern_version").int
        XCTAssertEqual(value59, 3)
        XCTAssertTrue(try server.cli(["FUNCTION", "FLUSH"]).contains("OK"))
        let value60 = try await client.fcall("tern_version").int
        XCTAssertEqual(value60, 3)
        XCTAssertTrue(try server.cli(["FUNCTION", "LIST"]).contains("tern"))
    }
}
