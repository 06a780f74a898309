import NIOCore
import XCTest
import TernTestSupport

@testable import TernRedis

/// Against a real three-master cluster on loopback, started once for the class.
final class RedisClusterTests: XCTestCase {
    nonisolated(unsafe) private static var cluster: RedisClusterProcess?
    nonisolated(unsafe) private static var setupError: String?

    override class func setUp() {
        super.setUp()
        do {
            cluster = try RedisClusterProcess()
        } catch {
            setupError = "\(error)"
        }
    }

    override class func tearDown() {
        cluster?.remove()
        cluster = nil
        super.tearDown()
    }

    private func startedCluster() throws -> RedisClusterProcess {
        guard let cluster = Self.cluster else {
            XCTFail(Self.setupError ?? "no cluster")
            throw XCTSkipFailure(Self.setupError ?? "no cluster")
        }
        return cluster
    }

    private func clusterClient(_ cluster: RedisClusterProcess, threads: Int = 1) throws -> RedisClient {
        var configuration = try RedisConfiguration(clusterURLs: [cluster.urls[0]])
        configuration.maxRedirects = 5
        return try makeClient(configuration, threads: threads)
    }

    /// A key whose slot holds no key yet (a slot can only change hands empty).
    private func keyInAnEmptySlot(_ prefix: String, _ cluster: RedisClusterProcess) throws -> String {
        for index in 0..<100 {
            let key = "\(prefix)-\(index)"
            let slot = HashSlot.slot(key)
            let count = try cluster.node(forSlot: slot).cli(["CLUSTER", "COUNTKEYSINSLOT", "\(slot)"])
            if count.trimmingCharacters(in: .whitespacesAndNewlines) == "0" { return key }
        }
        throw XCTSkipFailure("no empty slot found")
    }

    private func id(of node: RedisServerProcess) throws -> String {
        try node.cli(["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testSlotMapFromClusterShards() async throws {
        let cluster = try startedCluster()
        let client = try clusterClient(cluster)
        let topology = try ClusterTopology.fromShards(try await client.send("CLUSTER", ["SHARDS"]), useTLS: false)
        XCTAssertEqual(topology.coveredSlots, HashSlot.count)
        XCTAssertEqual(Set(topology.nodes), Set(cluster.nodes.map { RedisEndpoint.tcp(host: "127.0.0.1", port: $0.port) }))
        let fromSlots = try ClusterTopology.fromSlots(try await client.send("CLUSTER", ["SLOTS"]))
        XCTAssertEqual(fromSlots.coveredSlots, HashSlot.count)
        // RESP2 sends the shard maps as flat arrays.
        let resp2 = try makeClient(try RedisConfiguration(url: cluster.urls[1] + "?protocol=2"))
        let flat = try ClusterTopology.fromShards(try await resp2.send("CLUSTER", ["SHARDS"]), useTLS: false)
        XCTAssertEqual(flat.coveredSlots, HashSlot.count)
        XCTAssertTrue((0..<UInt16(HashSlot.count)).allSatisfy { flat.endpoint(forSlot: $0) == topology.endpoint(forSlot: $0) })
        for slot in [0, 5000, 16383] as [UInt16] {
            XCTAssertEqual(topology.endpoint(forSlot: slot), fromSlots.endpoint(forSlot: slot))
        }
    }

    func testKeysAreRoutedToTheirNodes() async throws {
        let cluster = try startedCluster()
        let client = try clusterClient(cluster, threads: 2)
        for index in 0..<60 {
            try await client.set("routed:\(index)", "\(index)")
        }
        for index in stride(from: 0, to: 60, by: 7) {
            let key = "routed:\(index)"
            let value36 = try await client.get(key)?.text
            XCTAssertEqual(value36, "\(index)")
            // The key is on the node that owns its slot, where redis-cli finds it without redirect.
            let owner = try cluster.node(forSlot: HashSlot.slot(key))
            XCTAssertEqual(try owner.cli(["GET", key]).trimmingCharacters(in: .whitespacesAndNewlines), "\(index)")
        }
        // Keyless commands go to any node; generic commands find their key.
        try await client.ping()
        let value37 = try await client.send("INCR", ["routed:counter"])
        XCTAssertEqual(value37, .integer(1))
        let value38 = try await client.fcall("tern_lease_acquire", keys: ["lease:{a}"], arguments: ["t", 1000])
        XCTAssertEqual(value38, .integer(1))
        let value39 = try await client.fcall("tern_lease_acquire", keys: ["lease:{b}"], arguments: ["t", 1000])
        XCTAssertEqual(value39, .integer(1))
        let value40 = try await client.fcall("tern_lease_release", keys: ["lease:{a}"], arguments: ["t"])
        XCTAssertEqual(value40, .integer(1))
    }

    func testHashTagsAndCrossSlotRefusal() async throws {
        let cluster = try startedCluster()
        let client = try clusterClient(cluster)
        try await client.set("{user42}:name", "ada")
        try await client.set("{user42}:mail", "ada@example")
        let value41 = try await client.mget(["{user42}:name", "{user42}:mail"]).map { $0?.text }
        XCTAssertEqual(value41, ["ada", "ada@example"])
        let value42 = try await client.del(["{user42}:name", "{user42}:mail"])
        XCTAssertEqual(value42, 2)

        XCTAssertNotEqual(HashSlot.slot("a"), HashSlot.slot("b"))
        let error = await assertRedisError(.crossSlot) { try await client.mget(["a", "b"]) }
        XCTAssertTrue(error?.description.contains("hash tags") == true)
        await assertRedisError(.crossSlot) { try await client.send("MSET", ["a", "1", "b", "2"]) }
        await assertRedisError(.crossSlot) { try await client.del(["a", "b"]) }
    }

    func testMovedIsFollowedAndTheMapRefreshed() async throws {
        let cluster = try startedCluster()
        let client = try clusterClient(cluster)
        try await client.ping()  // the client reads the slot map now

        let key = try keyInAnEmptySlot("moving-key", cluster)
        let slot = HashSlot.slot(key)
        let source = try cluster.node(forSlot: slot)
        let target = try XCTUnwrap(cluster.nodes.first { $0.port != source.port })
        let targetID = try id(of: target)
        // Hand the (empty) slot to another master, behind the client's back.
        for node in cluster.nodes {
            XCTAssertTrue(try node.cli(["CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID]).contains("OK"))
        }
        try await client.set(key, "moved")
        XCTAssertEqual(try target.cli(["GET", key]).trimmingCharacters(in: .whitespacesAndNewlines), "moved")
        let value43 = try await client.get(key)?.text
        XCTAssertEqual(value43, "moved")
    }

    func testAskIsFollowedWithAsking() async throws {
        let cluster = try startedCluster()
        let client = try clusterClient(cluster)
        let key = try keyInAnEmptySlot("asked-key", cluster)
        let slot = HashSlot.slot(key)
        let source = try cluster.node(forSlot: slot)
        let target = try XCTUnwrap(cluster.nodes.first { $0.port != source.port })
        let sourceID = try id(of: source)
        let targetID = try id(of: target)
        try await client.ping()
        // Mid-migration: keys missing on the source are answered with ASK to the target.
        XCTAssertTrue(try target.cli(["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", sourceID]).contains("OK"))
        XCTAssertTrue(try source.cli(["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", targetID]).contains("OK"))
        defer {
            for node in cluster.nodes { _ = try? node.cli(["CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID]) }
        }
        try await client.set(key, "asked")
        XCTAssertEqual(try target.cli(["CLUSTER", "COUNTKEYSINSLOT", "\(slot)"]).trimmingCharacters(in: .whitespacesAndNewlines), "1")
        let value44 = try await client.get(key)?.text
        XCTAssertEqual(value44, "asked")
    }
}
