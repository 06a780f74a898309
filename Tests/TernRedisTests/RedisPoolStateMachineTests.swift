import NIOCore
import XCTest

@testable import TernRedis

final class RedisPoolStateMachineTests: XCTestCase {
    func testLazyCreationAndRoundRobinPerTick() {
        var m = RedisPoolStateMachine(size: 2)
        XCTAssertEqual(m.route(), .create(0))
        // Within one tick of the loop, every command goes to the same connection: one write.
        XCTAssertEqual(m.route(), .use(0))
        m.tickEnded()
        XCTAssertEqual(m.route(), .create(1))
        m.tickEnded()
        XCTAssertEqual(m.route(), .use(0))
        m.connectionReady(0)
        m.tickEnded()
        XCTAssertEqual(m.route(), .use(1))
        XCTAssertEqual(m.route(), .use(1))
        m.tickEnded()
        XCTAssertEqual(m.route(), .use(0))
    }

    func testBackoffAfterFailuresAndFailFastWhileWaiting() {
        var m = RedisPoolStateMachine(size: 1)
        XCTAssertEqual(m.route(), .create(0))
        XCTAssertEqual(m.connectionClosed(0), .scheduleReconnect(0, attempt: 1))
        XCTAssertEqual(m.route(), .failReconnecting)
        XCTAssertEqual(m.reconnectTimerFired(0), .create(0))
        XCTAssertEqual(m.connectionClosed(0), .scheduleReconnect(0, attempt: 2))
        XCTAssertEqual(m.reconnectTimerFired(0), .create(0))
        m.connectionReady(0)
        // A connection that worked is replaced at once, and the failure count starts again.
        XCTAssertEqual(m.connectionClosed(0), .create(0))
        XCTAssertEqual(m.connectionClosed(0), .scheduleReconnect(0, attempt: 1))
    }

    func testOtherSlotsServeWhileOneWaits() {
        var m = RedisPoolStateMachine(size: 2)
        _ = m.route()
        m.tickEnded()
        _ = m.route()
        m.connectionReady(1)
        XCTAssertEqual(m.connectionClosed(0), .scheduleReconnect(0, attempt: 1))
        XCTAssertEqual(m.route(), .use(1))
        XCTAssertEqual(m.route(), .use(1))
    }

    func testShutdown() {
        var m = RedisPoolStateMachine(size: 2)
        _ = m.route()
        m.tickEnded()
        _ = m.route()
        m.connectionReady(0)
        XCTAssertEqual(m.shutdown(), .closeAll([0, 1]))
        XCTAssertEqual(m.route(), .failShutdown)
        XCTAssertEqual(m.connectionClosed(0), .none)
        XCTAssertEqual(m.connectionClosed(1), .shutdownComplete)
        var empty = RedisPoolStateMachine(size: 1)
        XCTAssertEqual(empty.shutdown(), .shutdownComplete)
    }

    func testBackoffDelays() {
        let base = TimeAmount.milliseconds(50)
        let max = TimeAmount.seconds(5)
        XCTAssertEqual(RedisPoolStateMachine.backoff(attempt: 1, base: base, max: max, jitter: 1), .milliseconds(50))
        XCTAssertEqual(RedisPoolStateMachine.backoff(attempt: 3, base: base, max: max, jitter: 1), .milliseconds(200))
        XCTAssertEqual(RedisPoolStateMachine.backoff(attempt: 3, base: base, max: max, jitter: 0.5), .milliseconds(100))
        XCTAssertEqual(RedisPoolStateMachine.backoff(attempt: 40, base: base, max: max, jitter: 1), .seconds(5))
        XCTAssertEqual(RedisPoolStateMachine.backoff(attempt: 1000, base: base, max: max, jitter: 1), .seconds(5))
    }
}
