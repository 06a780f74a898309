import XCTest

@testable import TernProxy

/// Passive health as the balancer reads it (`isUp`, which reads the clock only while a mark-down
/// stands and clears one that has run out), and the active check's verdict over it.
final class ServerHealthTests: XCTestCase {
    func testAMarkDownRunsOutAndALaterOneStillCounts() async throws {
        let health = ServerHealth(maxFails: 2, failTimeout: .milliseconds(150))
        XCTAssertTrue(health.isUp())
        health.recordFailure(now: .now())
        XCTAssertTrue(health.isUp(), "one failure of two allowed")
        health.recordFailure(now: .now())
        XCTAssertFalse(health.isUp(), "max-fails reached: down for fail-timeout")
        XCTAssertFalse(health.isUp(), "still down on a second look")
        try await Task.sleep(for: .milliseconds(250))
        XCTAssertTrue(health.isUp(), "fail-timeout ran out")
        XCTAssertTrue(health.isUp(), "and the mark-down, cleared, stays gone")
        // Cleared, not forgotten how to count: two more failures take it out again.
        health.recordFailure(now: .now())
        health.recordFailure(now: .now())
        XCTAssertFalse(health.isUp())
    }

    func testTheActiveCheckOverridesPassiveHealth() {
        let health = ServerHealth(maxFails: 1, failTimeout: .seconds(60))
        health.setChecked(up: false)
        XCTAssertFalse(health.isUp())
        health.setChecked(up: true)
        XCTAssertTrue(health.isUp())
        health.recordFailure(now: .now())
        XCTAssertFalse(health.isUp())
        health.setChecked(up: true)
        XCTAssertTrue(health.isUp(), "a passing check ends a passive mark-down")
    }

    func testMaxFailsZeroNeverMarksDown() {
        let health = ServerHealth(maxFails: 0, failTimeout: .seconds(60))
        for _ in 0..<5 { health.recordFailure(now: .now()) }
        XCTAssertTrue(health.isUp())
    }
}
