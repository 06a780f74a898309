import NIOCore
import NIOPosix
import Synchronization
import TernClient
import XCTest

extension XCTestCase {
    /// Starts a `TestHTTPServer`; it is shut down when the test ends (after agents made later, which tear down first).
    func startServer(
        address: TestHTTPServer.Address = .ipv4,
        tls: TestHTTPServer.TLS? = nil,
        behavior: TestHTTPServer.Behavior = .normal
    ) async throws -> TestHTTPServer {
        let server = try await TestHTTPServer(address: address, tls: tls, behavior: behavior).start()
        addTeardownBlock {
            try await server.shutdown()
        }
        return server
    }

    /// An agent on its own one-thread event loop group, so that its per-loop pools are one pool per origin and
    /// connection counts are exact. `agent.shutdown()` and the group's shutdown run when the test ends.
    func makeAgent(_ configure: (inout Agent.Configuration) -> Void = { _ in }) -> Agent {
        var configuration = Agent.Configuration()
        configure(&configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let agent = Agent(configuration: configuration, eventLoopGroup: group)
        addTeardownBlock {
            if await shutDownWithinTimeLimit(agent) {
                try await group.shutdownGracefully()
            }
            // else: the group is leaked rather than shut down under requests the agent still runs
        }
        return agent
    }

    /// An agent that owns its event loops (the default initializer); shut down when the test ends.
    func makeOwningAgent(_ configure: (inout Agent.Configuration) -> Void = { _ in }) -> Agent {
        var configuration = Agent.Configuration()
        configure(&configuration)
        let agent = Agent(configuration: configuration)
        addTeardownBlock {
            await shutDownWithinTimeLimit(agent)
        }
        return agent
    }

    /// Polls `condition` every 10 ms until it holds or `timeout` passes (for server-side observations that race
    /// with the response reaching the client).
    func waitUntil(
        timeout: Duration = .seconds(5),
        file: StaticString = #filePath,
        line: UInt = #line,
        _ condition: () -> Bool
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !condition() {
            if clock.now >= deadline {
                XCTFail("condition not met within \(timeout)", file: file, line: line)
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// `agent.shutdown()`, failing the test instead of hanging the whole suite when it does not return in time.
/// Returns whether it returned.
@discardableResult
func shutDownWithinTimeLimit(
    _ agent: Agent,
    _ limit: Duration = .seconds(10),
    file: StaticString = #filePath,
    line: UInt = #line
) async -> Bool {
    let once = Once()
    let outcome: Result<Bool, any Error> = await withCheckedContinuation { continuation in
        let resume: @Sendable (Result<Bool, any Error>) -> Void = { result in
            if once.claim() { continuation.resume(returning: result) }
        }
        Task {
            do {
                try await agent.shutdown()
                resume(.success(true))
            } catch {
                resume(.failure(error))
            }
        }
        Task {
            try? await Task.sleep(for: limit)
            resume(.success(false))
        }
    }
    switch outcome {
    case .success(true):
        return true
    case .success(false):
        XCTFail("agent.shutdown() did not return within \(limit)", file: file, line: line)
        return false
    case .failure(let error):
        XCTFail("agent.shutdown() threw \(error)", file: file, line: line)
        return true
    }
}

/// True for the first caller only.
final class Once: Sendable {
    private let claimed = Mutex(false)
    func claim() -> Bool {
        claimed.withLock { claimed in
            defer { claimed = true }
            return !claimed
        }
    }
}

/// Asserts that `body` throws a `TernClientError` with `code` (and `phase`, when given); returns the error.
@discardableResult
func assertThrowsTernError<T>(
    code: TernClientError.Code,
    phase: TernClientError.Phase? = nil,
    file: StaticString = #filePath,
    line: UInt = #line,
    _ body: () async throws -> T
) async -> TernClientError? {
    do {
        let value = try await body()
        XCTFail("expected \(code), got a value: \(value)", file: file, line: line)
        return nil
    } catch let error as TernClientError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        if let phase {
            XCTAssertEqual(error.phase, phase, "\(error)", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("expected TernClientError \(code), got \(type(of: error)): \(error)", file: file, line: line)
        return nil
    }
}

/// Asserts that `body` throws a `TernClientError` whose code is one of `codes`.
@discardableResult
func assertThrowsTernError<T>(
    oneOf codes: Set<TernClientError.Code>,
    phase: TernClientError.Phase? = nil,
    file: StaticString = #filePath,
    line: UInt = #line,
    _ body: () async throws -> T
) async -> TernClientError? {
    do {
        let value = try await body()
        XCTFail("expected one of \(codes), got a value: \(value)", file: file, line: line)
        return nil
    } catch let error as TernClientError {
        XCTAssertTrue(codes.contains(error.code), "\(error)", file: file, line: line)
        if let phase {
            XCTAssertEqual(error.phase, phase, "\(error)", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("expected TernClientError \(codes), got \(type(of: error)): \(error)", file: file, line: line)
        return nil
    }
}

extension Agent {
    /// GET `url` and return the body as text, failing the test on a non-200 status.
    func getString(_ url: String, file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        let response = try await get(url)
        XCTAssertEqual(response.status.code, 200, "GET \(url)", file: file, line: line)
        return try await response.string()
    }
}

extension Response {
    /// Reads the body to its end, counting bytes without keeping them.
    func countBodyBytes() async throws -> Int {
        var count = 0
        for try await chunk in body {
            count += chunk.readableBytes
        }
        return count
    }
}

/// `XCTAssertEqual` for an expression that awaits (XCTest's autoclosures cannot). Errors propagate to the test.
func assertEqual<T: Equatable>(
    _ expression: @autoclosure () async throws -> T,
    _ expected: T,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath,
    line: UInt = #line
) async throws {
    let value = try await expression()
    XCTAssertEqual(value, expected, message(), file: file, line: line)
}
