import XCTest

@testable import TernClient

/// The pool machine without IO: each event's exact action.
final class PoolStateMachineTests: XCTestCase {
    typealias Machine = PoolStateMachine

    func testFirstLeaseCreatesAConnectionAndQueues() {
        var pool = Machine(maxConnections: 2, maxWaiters: 10)
        XCTAssertEqual(pool.lease(1), Machine.Action(waiter: .queued(1), connection: .create(0)))
        XCTAssertEqual(pool.connectionEstablished(0), Machine.Action(waiter: .execute(1, on: 0)))
        XCTAssertEqual(pool.leasedCount, 1)
    }

    func testReleasedConnectionIsReusedWithoutANewOne() {
        var pool = Machine(maxConnections: 2, maxWaiters: 10)
        _ = pool.lease(1)
        _ = pool.connectionEstablished(0)
        XCTAssertEqual(pool.release(0, reusable: true), Machine.Action(connection: .park(0)))
        XCTAssertEqual(pool.idleCount, 1)
        XCTAssertEqual(pool.lease(2), Machine.Action(waiter: .execute(2, on: 0)))
        XCTAssertEqual(pool.idleCount, 0)
    }

    func testIdleConnectionsAreHandedOutLastInFirstOut() {
        var pool = Machine(maxConnections: 2, maxWaiters: 10)
        _ = pool.lease(1)
        _ = pool.lease(2)
        _ = pool.connectionEstablished(0)
        _ = pool.connectionEstablished(1)
        _ = pool.release(0, reusable: true)
        _ = pool.release(1, reusable: true)
        XCTAssertEqual(pool.lease(3), Machine.Action(waiter: .execute(3, on: 1)))
    }

    func testTheLimitHoldsAndWaitersGetReleasedConnections() {
        var pool = Machine(maxConnections: 1, maxWaiters: 10)
        XCTAssertEqual(pool.lease(1).connection, .create(0))
        XCTAssertEqual(pool.lease(2), Machine.Action(waiter: .queued(2)))  // no second connection
        XCTAssertEqual(pool.connectionEstablished(0).waiter, .execute(1, on: 0))
        XCTAssertEqual(pool.release(0, reusable: true), Machine.Action(waiter: .execute(2, on: 0)))
        XCTAssertEqual(pool.connections.count, 1)
    }

    func testWaiterQueueIsBounded() {
        var pool = Machine(maxConnections: 1, maxWaiters: 2)
        _ = pool.lease(1)
        _ = pool.lease(2)
        XCTAssertEqual(pool.lease(3), Machine.Action(waiter: .fail(3, .tooManyWaiters)))
    }

    func testWaiterTimeoutRemovesOnlyThatWaiter() {
        var pool = Machine(maxConnections: 1, maxWaiters: 10)
        _ = pool.lease(1)
        _ = pool.lease(2)
        XCTAssertEqual(pool.waiterLeft(1, reason: .waitTimeout), Machine.Action(waiter: .fail(1, .waitTimeout)))
        XCTAssertEqual(pool.waiterLeft(1, reason: .waitTimeout), .none)
        XCTAssertEqual(pool.connectionEstablished(0).waiter, .execute(2, on: 0))
    }

    func testConnectFailureFailsTheOldestWaiterAndRetriesForTheRest() {
        var pool = Machine(maxConnections: 1, maxWaiters: 10)
        _ = pool.lease(1)
        _ = pool.lease(2)
        XCTAssertEqual(
            pool.connectionFailed(0),
            Machine.Action(waiter: .fail(1, .connectFailed(0)), connection: .create(1))
        )
        XCTAssertEqual(pool.connectionFailed(1), Machine.Action(waiter: .fail(2, .connectFailed(1))))
        XCTAssertTrue(pool.isEmpty)
    }

    func testUnreusableReleaseClosesAndReplacesForWaiters() {
        var pool = Machine(maxConnections: 1, maxWaiters: 10)
        _ = pool.lease(1)
        _ = pool.lease(2)
        _ = pool.connectionEstablished(0)
        XCTAssertEqual(pool.release(0, reusable: false), Machine.Action(connection: .closeAndCreate(close: 0, create: 1)))
        XCTAssertEqual(pool.connectionEstablished(1).waiter, .execute(2, on: 1))
    }

    func testServerCloseOfAnIdleConnectionForgetsIt() {
        var pool = Machine(maxConnections: 1, maxWaiters: 10)
        _ = pool.lease(1)
        _ = pool.connectionEstablished(0)
        _ = pool.release(0, reusable: true)
        XCTAssertEqual(pool.connectionClosed(0), .none)
        XCTAssertEqual(pool.idleCount, 0)
        XCTAssertEqual(pool.lease(2).connection, .create(1))
    }

    func testIdleTimeoutClosesOnlyIdleConnections() {
        var pool = Machine(maxConnections: 1, maxWaiters: 10)
        _ = pool.lease(1)
        _ = pool.connectionEstablished(0)
        XCTAssertEqual(pool.idleTimeout(0), .none)  // leased: a stale timer does nothing
        _ = pool.release(0, reusable: true)
        XCTAssertEqual(pool.idleTimeout(0), Machine.Action(connection: .close(0)))
        XCTAssertTrue(pool.isEmpty)
    }

    func testFreshLeaseSkipsIdleConnections() {
        var pool = Machine(maxConnections: 2, maxWaiters: 10)
        _ = pool.lease(1)
        _ = pool.connectionEstablished(0)
        _ = pool.release(0, reusable: true)
        XCTAssertEqual(pool.lease(2, allowIdle: false), Machine.Action(waiter: .queued(2), connection: .create(1)))
    }

    func testFreshLeaseAtTheLimitTradesTheOldestIdleConnection() {
        var pool = Machine(maxConnections: 1, maxWaiters: 10)
        _ = pool.lease(1)
        _ = pool.connectionEstablished(0)
        _ = pool.release(0, reusable: true)
        XCTAssertEqual(
            pool.lease(2, allowIdle: false),
            Machine.Action(waiter: .queued(2), connection: .closeAndCreate(close: 0, create: 1))
        )
    }

    func testShutdownFailsWaitersClosesIdleAndWaitsForLeased() {
        var pool = Machine(maxConnections: 2, maxWaiters: 10)
        _ = pool.lease(1)
        _ = pool.lease(2)
        _ = pool.connectionEstablished(0)  // leased to 1
        _ = pool.connectionEstablished(1)  // leased to 2
        _ = pool.release(1, reusable: true)  // idle
        _ = pool.lease(3)  // takes 1 again
        _ = pool.release(1, reusable: true)
        _ = pool.lease(4)
        _ = pool.lease(5)
        let shutdown = pool.shutdown()
        XCTAssertEqual(shutdown.waiter, .failAll([5], .shutdown))
        XCTAssertFalse(shutdown.shutdownComplete)
        XCTAssertEqual(pool.lease(6), Machine.Action(waiter: .fail(6, .shutdown)))
        XCTAssertEqual(pool.release(0, reusable: true), Machine.Action(connection: .close(0)))
        XCTAssertEqual(pool.release(1, reusable: true), Machine.Action(connection: .close(1), shutdownComplete: true))
    }
}
