import NIOCore
import NIOEmbedded
import XCTest

@testable import TernProxy

/// One timer per loop bounds every Redis operation: each unanswered operation times out at its
/// own deadline, an answered one never does, and the timer follows the oldest pending deadline.
final class OperationDeadlinesTests: XCTestCase {
    func testEachOperationExpiresAtItsOwnDeadlineUnlessFinished() {
        let loop = EmbeddedEventLoop()
        let deadlines = OperationDeadlines(loop: loop, timeout: .milliseconds(100))
        var expired: [Int] = []
        let first = deadlines.start { expired.append(1) }
        loop.advanceTime(by: .milliseconds(30))
        let second = deadlines.start { expired.append(2) }
        loop.advanceTime(by: .milliseconds(30))
        let third = deadlines.start { expired.append(3) }
        XCTAssertTrue(second.finish(), "answered at 60 ms")
        XCTAssertFalse(second.finish(), "only once")

        loop.advanceTime(by: .milliseconds(39))  // 99 ms
        XCTAssertEqual(expired, [])
        loop.advanceTime(by: .milliseconds(1))  // 100 ms: the first's deadline
        XCTAssertEqual(expired, [1])
        XCTAssertFalse(first.finish(), "a late answer loses to the timeout")
        loop.advanceTime(by: .milliseconds(30))  // 130 ms: the second's deadline, but it was answered
        XCTAssertEqual(expired, [1])
        loop.advanceTime(by: .milliseconds(30))  // 160 ms: the third's
        XCTAssertEqual(expired, [1, 3])
        XCTAssertFalse(third.finish())
        XCTAssertEqual(deadlines.count, 0, "nothing left once all are swept")

        // A quiet loop has no timer; a new operation arms one.
        loop.advanceTime(by: .seconds(10))
        let late = deadlines.start { expired.append(4) }
        loop.advanceTime(by: .milliseconds(99))
        XCTAssertTrue(late.finish())
        loop.advanceTime(by: .seconds(1))
        XCTAssertEqual(expired, [1, 3])
        XCTAssertEqual(deadlines.count, 0)
        try? loop.syncShutdownGracefully()
    }

    func testManyAnsweredOperationsAreSweptAndNeverFire() {
        let loop = EmbeddedEventLoop()
        let deadlines = OperationDeadlines(loop: loop, timeout: .milliseconds(250))
        var fired = 0
        for _ in 0..<10_000 {
            let operation = deadlines.start { fired += 1 }
            XCTAssertTrue(operation.finish())
            loop.advanceTime(by: .microseconds(50))
        }
        loop.advanceTime(by: .seconds(1))
        XCTAssertEqual(fired, 0)
        XCTAssertEqual(deadlines.count, 0)
        try? loop.syncShutdownGracefully()
    }
}
