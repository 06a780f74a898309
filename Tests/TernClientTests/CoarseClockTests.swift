import NIOCore
import XCTest

@testable import TernClient

/// `NIODeadline.coarseNow()` reads the clock `now()` reads (so deadlines made from it are ones NIO's
/// timers understand), at most a kernel tick behind it, and never ahead.
final class CoarseClockTests: XCTestCase {
    func testCoarseNowTrailsNowByLessThanATick() {
        for _ in 0..<1000 {
            let coarse = NIODeadline.coarseNow()
            let precise = NIODeadline.now()
            XCTAssertLessThanOrEqual(coarse, precise)
            // A tick is 4 ms at HZ=250, 10 ms at HZ=100, the coarsest Linux is built with.
            XCTAssertLessThan((precise - coarse).nanoseconds, 10_000_000 + 1_000_000)
        }
    }

    func testCoarseNowMovesOn() throws {
        let start = NIODeadline.coarseNow()
        Thread.sleep(forTimeInterval: 0.03)
        XCTAssertGreaterThanOrEqual((NIODeadline.coarseNow() - start).nanoseconds, 15_000_000)
    }
}
