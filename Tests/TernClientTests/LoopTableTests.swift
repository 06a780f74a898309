import NIOCore
import NIOPosix
import XCTest

@testable import TernClient

/// The agent's table of pools by event loop: every loop of a group finds its own pools, whatever
/// the group's size (the sizes cross the table's growth points, where slots collide most), and a
/// loop of another group finds none.
final class LoopTableTests: XCTestCase {
    func testEveryLoopFindsItsOwnPoolsAndNoOtherLoopFindsAny() async throws {
        let stranger = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        for size in [1, 2, 3, 5, 8, 9, 17] {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: size)
            let pools = group.makeIterator().map { LoopPools(eventLoop: $0) }
            let table = LoopTable(pools)
            XCTAssertEqual(table.all.count, size)
            for entry in pools {
                XCTAssertTrue(table.pools(for: entry.eventLoop) === entry, "group of \(size)")
            }
            XCTAssertNil(table.pools(for: stranger.next()), "group of \(size)")
            try await group.shutdownGracefully()
        }
        try await stranger.shutdownGracefully()
    }
}
