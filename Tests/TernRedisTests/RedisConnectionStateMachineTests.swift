import NIOCore
import XCTest

@testable import TernRedis

final class RedisConnectionStateMachineTests: XCTestCase {
    typealias Machine = RedisConnectionStateMachine<Int>

    private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    private func machine(_ configure: (inout RedisConfiguration) -> Void = { _ in }) -> Machine {
        var configuration = RedisConfiguration(endpoints: [.tcp(host: "h", port: 1)])
        configure(&configuration)
        return Machine(handshake: RedisHandshake(configuration: configuration, address: "h:1"), address: "h:1", maxPending: 3)
    }

    private func text(_ action: Machine.ReplyAction) -> String? {
        if case .write(let bytes) = action { return String(buffer: bytes) }
        return nil
    }

    private func ok() -> RESPValue { .simpleString(ByteBuffer(string: "OK")) }

    private func readyMachine() -> Machine {
        var m = machine()
        _ = m.channelActive(deadline: t0)
        guard case .ready = m.received(.map([])) else { XCTFail("not ready"); return m }
        return m
    }

    func testHandshakeQueuesCommandsThenWritesThemTogether() {
        var m = machine { $0.password = "pw"; $0.clientName = "tern"; $0.database = 2 }
        guard case .queued = m.send(ByteBuffer(string: "A"), pending: 1, deadline: t0) else { return XCTFail() }
        XCTAssertEqual(text(m.channelActive(deadline: t0)),
                       "*7\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$2\r\npw\r\n$7\r\nSETNAME\r\n$4\r\ntern\r\n")
        guard case .queued = m.send(ByteBuffer(string: "B"), pending: 2, deadline: t0) else { return XCTFail() }
        XCTAssertEqual(text(m.received(.map([]))), "*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n")
        guard case .ready(.resp3, let bytes) = m.received(ok()) else { return XCTFail() }
        XCTAssertEqual(bytes.map { String(buffer: $0) }, "AB")
        XCTAssertEqual(m.state, .ready)
        guard case .succeed(1, _) = m.received(.integer(1)) else { return XCTFail() }
        guard case .succeed(2, _) = m.received(.integer(2)) else { return XCTFail() }
    }

    func testFallsBackToRESP2WhenHelloIsUnknown() {
        var m = machine { $0.username = "u"; $0.password = "pw"; $0.clientName = "n" }
        _ = m.channelActive(deadline: t0)
        XCTAssertEqual(text(m.received(.error(ByteBuffer(string: "ERR unknown command 'HELLO'")))),
                       "*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$2\r\npw\r\n")
        XCTAssertEqual(text(m.received(ok())), "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$1\r\nn\r\n")
        guard case .ready(.resp2, nil) = m.received(ok()) else { return XCTFail() }
    }

    func testRESP2WithoutCredentialsIsReadyAtOnce() {
        var m = machine { $0.protocolVersion = .resp2 }
        guard case .ready(.resp2, nil) = m.channelActive(deadline: t0) else { return XCTFail() }
    }

    func testFailedAuthenticationClosesAndFailsQueued() {
        var m = machine { $0.password = "wrong" }
        _ = m.send(ByteBuffer(string: "A"), pending: 7, deadline: t0)
        _ = m.channelActive(deadline: t0)
        guard case .close(let error, let failing) = m.received(.error(ByteBuffer(string: "WRONGPASS invalid username-password pair"))) else {
            return XCTFail()
        }
        XCTAssertEqual(error.code, .server)
        XCTAssertEqual(error.serverErrorPrefix, "WRONGPASS")
        XCTAssertEqual(failing, [7])
        XCTAssertEqual(m.state, .closed)
    }

    func testRepliesMatchCommandsInOrderAndErrorsFailOnlyTheirCommand() {
        var m = readyMachine()
        for id in 1...3 {
            guard case .write = m.send(ByteBuffer(string: "\(id)"), pending: id, deadline: t0) else { return XCTFail() }
        }
        guard case .fail(4, let full) = m.send(ByteBuffer(), pending: 4, deadline: t0) else { return XCTFail() }
        XCTAssertEqual(full.code, .tooManyPending)
        guard case .succeed(1, .integer(10)) = m.received(.integer(10)) else { return XCTFail() }
        guard case .fail(2, let error) = m.received(.error(ByteBuffer(string: "WRONGTYPE nope"))) else { return XCTFail() }
        XCTAssertEqual(error.message, "WRONGTYPE nope")
        XCTAssertEqual(error.address, "h:1")
        guard case .succeed(3, .integer(30)) = m.received(.integer(30)) else { return XCTFail() }
        // A reply nobody asked for is a protocol violation.
        guard case .close(let violation, []) = m.received(.integer(1)) else { return XCTFail() }
        XCTAssertEqual(violation.code, .protocolError)
    }

    func testDiscardedRepliesBeforeACommand() {
        var m = readyMachine()
        _ = m.send(ByteBuffer(string: "ASKING+GET"), discards: 1, pending: 1, deadline: t0)
        guard case .none = m.received(ok()) else { return XCTFail() }
        guard case .succeed(1, .null) = m.received(.null) else { return XCTFail() }
    }

    func testCloseFailsExactlyTheCommandsInFlight() {
        var m = readyMachine()
        _ = m.send(ByteBuffer(), pending: 1, deadline: t0)
        _ = m.send(ByteBuffer(), pending: 2, deadline: t0)
        _ = m.received(.integer(1))
        XCTAssertEqual(m.closed(RedisError(code: .connectionClosed)), [2])
        XCTAssertEqual(m.closed(RedisError(code: .connectionClosed)), [])
        guard case .fail(3, let error) = m.send(ByteBuffer(), pending: 3, deadline: t0) else { return XCTFail() }
        XCTAssertEqual(error.code, .connectionClosed)
    }

    func testTimeoutOfTheOldestCommandClosesTheConnection() {
        var m = readyMachine()
        _ = m.send(ByteBuffer(), pending: 1, deadline: t0 + .seconds(1))
        _ = m.send(ByteBuffer(), pending: 2, deadline: t0 + .seconds(3))
        var action = m.checkTimeouts(now: t0)
        XCTAssertEqual(action.timedOut, [])
        XCTAssertEqual(action.nextDeadline, t0 + .seconds(1))
        action = m.checkTimeouts(now: t0 + .seconds(1))
        XCTAssertEqual(action.timedOut, [1])
        XCTAssertEqual(action.close?.failing, [2])
        XCTAssertEqual(action.close?.error.code, .connectionClosed)
        XCTAssertEqual(m.state, .closed)
    }

    func testTimeoutBehindTheOldestLeavesAPlaceholder() {
        var m = readyMachine()
        _ = m.send(ByteBuffer(), pending: 1, deadline: t0 + .seconds(5))
        _ = m.send(ByteBuffer(), pending: 2, deadline: t0 + .seconds(1))
        _ = m.send(ByteBuffer(), pending: 3, deadline: t0 + .seconds(5))
        let action = m.checkTimeouts(now: t0 + .seconds(2))
        XCTAssertEqual(action.timedOut, [2])
        XCTAssertNil(action.close)
        XCTAssertEqual(action.nextDeadline, t0 + .seconds(5))
        // The late reply of 2 is dropped, and 3 still gets its own.
        guard case .succeed(1, .integer(1)) = m.received(.integer(1)) else { return XCTFail() }
        guard case .none = m.received(.integer(2)) else { return XCTFail() }
        guard case .succeed(3, .integer(3)) = m.received(.integer(3)) else { return XCTFail() }
        XCTAssertEqual(m.pendingCount, 0)
    }

    func testQueuedCommandsTimeOutWhileConnecting() {
        var m = machine()
        _ = m.send(ByteBuffer(), pending: 1, deadline: t0)
        _ = m.send(ByteBuffer(), pending: 2, deadline: t0 + .seconds(2))
        let action = m.checkTimeouts(now: t0 + .seconds(1))
        XCTAssertEqual(action.timedOut, [1])
        XCTAssertEqual(action.nextDeadline, t0 + .seconds(2))
        XCTAssertEqual(m.pendingCount, 1)
    }

    func testHandshakeTimeoutClosesEverything() {
        var m = machine()
        _ = m.send(ByteBuffer(), pending: 1, deadline: t0 + .seconds(9))
        _ = m.channelActive(deadline: t0 + .seconds(1))
        let action = m.checkTimeouts(now: t0 + .seconds(1))
        XCTAssertEqual(action.close?.error.code, .timeout)
        XCTAssertEqual(action.close?.failing, [1])
    }
}
