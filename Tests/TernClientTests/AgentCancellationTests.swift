import NIOCore
import TernClient
import XCTest

/// Cancelling the Task of a request ends it promptly, wherever it is, and leaves the agent usable.
final class AgentCancellationTests: XCTestCase {
    /// Cancellation must not wait for a timeout: every timeout here is far longer than the test allows.
    private func patientAgent(_ configure: (inout Agent.Configuration) -> Void = { _ in }) -> Agent {
        makeAgent {
            $0.readTimeout = .seconds(120)
            configure(&$0)
        }
    }

    private func assertCancelled<T: Sendable>(_ task: Task<T, any Error>, file: StaticString = #filePath, line: UInt = #line) async {
        let clock = ContinuousClock()
        let start = clock.now
        task.cancel()
        do {
            let value = try await task.value
            XCTFail("cancelled request returned \(value)", file: file, line: line)
        } catch let error as TernClientError {
            XCTAssertEqual(error.code, .cancelled, "\(error)", file: file, line: line)
        } catch is CancellationError {
        } catch {
            XCTFail("unexpected \(type(of: error)): \(error)", file: file, line: line)
        }
        // Not a performance bound: only "did not wait for a 120 s timeout".
        XCTAssertLessThan(clock.now - start, .seconds(10), file: file, line: line)
    }

    func testCancelWhileAwaitingTheHead() async throws {
        let server = try await startServer()
        let agent = patientAgent()
        let task = Task { try await agent.get(server.url("/never")) }
        try await waitUntil { server.requests.count == 1 }
        await assertCancelled(task)
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        try await waitUntil { server.openConnectionCount == 1 }
    }

    func testCancelWhileReadingTheBody() async throws {
        let server = try await startServer()
        let agent = patientAgent()
        let started = AsyncStream<Void>.makeStream()
        let task = Task {
            let response = try await agent.get(server.url("/slow-body?total=100000&chunk=10&interval=100"))
            var total = 0
            for try await buffer in response.body {
                total += buffer.readableBytes
                started.continuation.yield()
            }
            return total
        }
        var iterator = started.stream.makeAsyncIterator()
        _ = await iterator.next()
        await assertCancelled(task)
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testCancelWhileWaitingForAConnection() async throws {
        let server = try await startServer()
        let agent = patientAgent { $0.maxConnectionsPerOrigin = 1 }
        let busy = Task { try await agent.getString(server.url("/delay?ms=2500")) }
        try await waitUntil { server.requests.count == 1 }
        let waiting = Task { try await agent.get(server.url("/hello")) }
        try await Task.sleep(for: .milliseconds(100))
        await assertCancelled(waiting)
        let busyText = try await busy.value
        XCTAssertEqual(busyText, "Hello, world!")
        XCTAssertEqual(server.requests.count, 1, "the cancelled waiter never reached the server")
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testCancelWhileUploading() async throws {
        let server = try await startServer()
        let agent = patientAgent()
        // An upload that never ends: one chunk, then the producer waits.
        let task = Task {
            try await agent.execute(Request(
                method: .post, url: server.url("/sink"),
                body: .stream(ParkedAfterFirstChunkStream(), length: nil)
            ))
        }
        try await waitUntil { server.requests.count == 1 }
        await assertCancelled(task)
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testFailedRequestStopsPullingItsBodyStream() async throws {
        // The server drops the (reused) connection when the body starts; the producer is then parked in its
        // second `next()`. Once the request has failed, nothing will take more body: the agent must cancel the
        // producer, or its task outlives the request (and, after agent and loops shut down, touches a dead loop).
        let server = try await startServer(behavior: .closeReusedConnectionsOnBody)
        let agent = patientAgent()
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        let stream = ParkedAfterFirstChunkStream()
        await assertThrowsTernError(oneOf: [.remoteClosed, .writeFailed]) {
            try await agent.execute(Request(method: .post, url: server.url("/sink"), body: .stream(stream, length: nil)))
        }
        try await waitUntil(timeout: .seconds(5)) { stream.state.wasCancelled }
    }

    func testAlreadyCancelledTaskDoesNotSendTheRequest() async throws {
        let server = try await startServer()
        let agent = patientAgent()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await agent.get(server.url("/hello"))
        }
        await assertCancelled(task)
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertTrue(server.requests.isEmpty)
    }
}
