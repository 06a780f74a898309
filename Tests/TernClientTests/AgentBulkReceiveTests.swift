import NIOCore
import TernClient
import XCTest

/// Bulk receive (`BulkReceive`): while a long `Content-Length` body pours in, the agent raises its socket's
/// receive low-water mark so that the event loop wakes once per 256 KiB; it never holds bytes back for
/// long. Observed on the real socket, through the kernel (`SO_RCVLOWAT`). Linux only.
final class AgentBulkReceiveTests: XCTestCase {
    override func setUp() async throws {
        #if !os(Linux)
        throw XCTSkip("the receive low-water mark is raised on Linux only")
        #endif
    }

    func testALongBodyRaisesTheMarkWhileItPoursInAndTheEndLowersIt() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let length = 16 << 20
        let response = try await agent.get(server.url("/bytes/\(length)"))
        let (total, highest) = try await SocketLowWater.readBody(of: response, connectedTo: server.port)
        XCTAssertEqual(total, length)
        XCTAssertEqual(highest, 256 * 1024, "the mark was never raised during a 16 MiB body")
        // The connection is back in the pool, open, with the default mark: the next response's head
        // and a short body are read as they come.
        XCTAssertEqual(SocketLowWater.marks(ofSocketsConnectedTo: server.port), [1])
        let hello = try await agent.getString(server.url("/hello"))
        XCTAssertEqual(hello, "Hello, world!")
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testAShortBodyLeavesTheMarkAlone() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let response = try await agent.get(server.url("/bytes/\(400 << 10)"))
        let (total, highest) = try await SocketLowWater.readBody(of: response, connectedTo: server.port)
        XCTAssertEqual(total, 400 << 10)
        XCTAssertEqual(highest, 1, "400 KiB is less than twice the mark: nothing to gain")
    }

    /// A burst raises the mark; the burst is read, then a few bytes (far fewer than the mark) come on
    /// their own, and the server goes quiet. Those bytes must reach the reader within milliseconds (the
    /// periodic check has lowered the mark by then), not when the server speaks again three seconds later.
    func testBytesLeftUnderTheMarkWhenTheBodyStallsStillArrive() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let length = 8 << 20
        let burst = 4 << 20
        let tail = burst + 3 * 256
        let response = try await agent.get(server.url("/bytes/\(length)?stall-after=\(burst),\(tail)&stall=200,3000"))
        var total = 0
        var highest: Int32 = 0
        var burstEnded: ContinuousClock.Instant?
        var tailArrived: Duration?
        for try await buffer in response.body {
            total += buffer.readableBytes
            if total < burst {
                highest = max(highest, SocketLowWater.marks(ofSocketsConnectedTo: server.port).max() ?? 0)
            } else if burstEnded == nil {
                burstEnded = .now
            }
            if total >= tail, tailArrived == nil, let burstEnded {
                tailArrived = .now - burstEnded
            }
        }
        XCTAssertEqual(total, length)
        XCTAssertEqual(highest, 256 * 1024, "the burst did not raise the mark, so this test shows nothing")
        let late = try XCTUnwrap(tailArrived)
        XCTAssertLessThan(late, .milliseconds(1500), "the bytes after the burst waited for the server's next burst")
    }
}
