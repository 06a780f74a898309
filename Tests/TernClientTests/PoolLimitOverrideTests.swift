import XCTest

@testable import TernClient

/// `PoolStateMachine.setMaxConnections`: the per-origin limit the proxy's `max-conns` sets.
final class PoolLimitOverrideTests: XCTestCase {
    typealias Machine = PoolStateMachine

    func testALoweredLimitStopsNewConnections() {
        var pool = Machine(maxConnections: 64, maxWaiters: 10)
        pool.setMaxConnections(2)
        XCTAssertEqual(pool.lease(1).connection, .create(0))
        XCTAssertEqual(pool.lease(2).connection, .create(1))
        XCTAssertEqual(pool.lease(3), Machine.Action(waiter: .queued(3)), "no third connection")
        _ = pool.connectionEstablished(0)
        _ = pool.connectionEstablished(1)
        // A released connection goes to the waiter; the count stays at the limit.
        XCTAssertEqual(pool.release(0, reusable: true), Machine.Action(waiter: .execute(3, on: 0)))
        XCTAssertEqual(pool.connections.count, 2)
    }

    func testARaisedLimitOpensMoreForTheNextLease() {
        var pool = Machine(maxConnections: 1, maxWaiters: 10)
        _ = pool.lease(1)
        XCTAssertEqual(pool.lease(2), Machine.Action(waiter: .queued(2)))
        pool.setMaxConnections(3)
        XCTAssertEqual(pool.lease(3).connection, .create(1))
    }
}
