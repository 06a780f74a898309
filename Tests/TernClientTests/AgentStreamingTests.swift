import HTTPTypes
import NIOCore
import TernClient
import XCTest

/// Response and request bodies over real sockets: framing, HEAD and bodiless statuses, and bodies far larger than
/// memory could hold if they were buffered.
final class AgentStreamingTests: XCTestCase {
    /// byte k of `/bytes/N` and `/chunked/N` is `k % 256`
    private func assertPattern(_ buffer: ByteBuffer, count: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(buffer.readableBytes, count, file: file, line: line)
        let bytes = buffer.readableBytesView
        let mismatch = bytes.enumerated().first { $0.element != UInt8(truncatingIfNeeded: $0.offset) }
        XCTAssertNil(mismatch, "first wrong byte at \(mismatch?.offset ?? -1)", file: file, line: line)
    }

    func testContentLengthBody() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        for count in [0, 1, 65_535, 65_536, 300_001] {
            let response = try await agent.get(server.url("/bytes/\(count)"))
            XCTAssertEqual(response.headerFields[.contentLength], "\(count)")
            assertPattern(try await response.bytes(), count: count)
        }
    }

    func testChunkedBody() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        for count in [0, 1, 65_536, 300_001] {
            let response = try await agent.get(server.url("/chunked/\(count)"))
            XCTAssertEqual(response.headerFields[.transferEncoding], "chunked")
            assertPattern(try await response.bytes(), count: count)
        }
    }

    func testBodyIsAnAsyncSequenceOfSeveralBuffers() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let response = try await agent.get(server.url("/chunked/1000000"))
        var buffers = 0
        var total = 0
        for try await buffer in response.body {
            buffers += 1
            total += buffer.readableBytes
        }
        XCTAssertEqual(total, 1_000_000)
        XCTAssertGreaterThan(buffers, 1)
    }

    func testBodyLargerThanTheLimitThrows() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let response = try await agent.get(server.url("/bytes/100000"))
        await assertThrowsTernError(code: .bodyTooLarge) {
            try await response.bytes(upTo: 1000)
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testHeadHasNoBody() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        for path in ["/hello", "/bytes/100000", "/chunked/100000"] {
            let response = try await agent.execute(Request(method: .head, url: server.url(path)))
            XCTAssertEqual(response.status.code, 200, path)
            try await assertEqual(await response.bytes().readableBytes, 0, path)
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        XCTAssertEqual(server.connectionCount, 1, "the connection stays in sync after HEAD")
    }

    func testNoContentAndNotModifiedHaveNoBody() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        for code in [204, 304] {
            let response = try await agent.get(server.url("/status/\(code)"))
            XCTAssertEqual(response.status.code, code)
            try await assertEqual(await response.bytes().readableBytes, 0)
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testErrorStatusesAreResponsesNotErrors() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        for code in [400, 404, 500, 503] {
            let response = try await agent.get(server.url("/status/\(code)"))
            XCTAssertEqual(response.status.code, code)
            try await assertEqual(await response.string(), "status \(code)")
        }
    }

    func testBodyDelimitedByClose() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let response = try await agent.get(server.url("/http10?eof"))
        try await assertEqual(await response.string(), "HTTP/1.0 body")
    }

    func testRequestBodies() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let payload = String(repeating: "0123456789", count: 10_000)
        let bodies: [(Request.Body, String)] = [
            (.string(payload), "string"),
            (.bytes(Array(payload.utf8)), "bytes"),
            (.bytes(ByteBuffer(string: payload)), "buffer"),
            (.stream(AsyncStream { continuation in
                for _ in 0..<10 { continuation.yield(ByteBuffer(string: String(payload.prefix(10_000)))) }
                continuation.finish()
            }, length: 100_000), "stream with length"),
        ]
        for (body, name) in bodies {
            let response = try await agent.execute(Request(method: .post, url: server.url("/echo"), body: body))
            let echoed = try await response.string(upTo: 1 << 20)
            XCTAssertEqual(echoed.count, payload.count, name)
            XCTAssertEqual(echoed, payload, name)
        }
        // A chunked stream whose buffers are all empty is an empty body, not a premature terminator.
        let emptyBuffers = AsyncStream<ByteBuffer> { continuation in
            for _ in 0..<5 { continuation.yield(ByteBuffer()) }
            continuation.finish()
        }
        let empty = try await agent.execute(
            Request(method: .post, url: server.url("/sink"), body: .stream(emptyBuffers, length: nil))
        )
        try await assertEqual(await empty.string(), "0")
    }

    func testChunkedUploadWithoutLength() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        let request = Request(
            method: .put, url: server.url("/sink"),
            body: .stream(RepeatingByteStream(total: 5_000_000, chunkSize: 10_000), length: nil)
        )
        let response = try await agent.execute(request)
        try await assertEqual(await response.string(), "5000000")
        let head = try XCTUnwrap(server.requestHeads.last)
        XCTAssertEqual(head.headers["Transfer-Encoding"].first?.lowercased(), "chunked")
    }

    func testOneGibibyteDownloadInBoundedMemory() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        _ = try await agent.getString(server.url("/hello"))  // warm up the connection and the agent
        let before = try XCTUnwrap(ProcessMemory.residentBytes())
        var peak = before
        let response = try await agent.get(server.url("/bytes/\(1 << 30)"))
        var total = 0
        var sinceSample = 0
        var paused = false
        for try await buffer in response.body {
            total += buffer.readableBytes
            sinceSample += buffer.readableBytes
            if sinceSample >= 16 << 20 {
                sinceSample = 0
                peak = max(peak, ProcessMemory.residentBytes() ?? 0)
            }
            if !paused, total >= 64 << 20 {
                // A slow consumer: without backpressure the agent would keep reading the socket meanwhile and
                // buffer hundreds of MiB in this second.
                paused = true
                try await Task.sleep(for: .seconds(1))
                peak = max(peak, ProcessMemory.residentBytes() ?? 0)
            }
        }
        peak = max(peak, ProcessMemory.residentBytes() ?? 0)
        XCTAssertEqual(total, 1 << 30)
        XCTAssertLessThan(peak - before, 100 << 20, "RSS grew by \((peak - before) >> 20) MiB")
    }

    func testOneGibibyteUploadInBoundedMemory() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        _ = try await agent.getString(server.url("/hello"))
        let sampler = MemorySampler()
        let before = try XCTUnwrap(ProcessMemory.residentBytes())
        let sampling = Task { await sampler.run() }
        let request = Request(
            method: .post, url: server.url("/sink"),
            body: .stream(RepeatingByteStream(total: 1 << 30, freshBuffers: true), length: 1 << 30)
        )
        let response = try await agent.execute(request)
        let text = try await response.string()
        sampling.cancel()
        let peak = max(await sampling.value, ProcessMemory.residentBytes() ?? 0)
        XCTAssertEqual(text, "\(1 << 30)")
        XCTAssertLessThan(peak - before, 100 << 20, "RSS grew by \((peak - before) >> 20) MiB")
    }
}

/// Samples RSS every 50 ms until cancelled; returns the peak.
struct MemorySampler {
    func run() async -> Int {
        var peak = 0
        while !Task.isCancelled {
            peak = max(peak, ProcessMemory.residentBytes() ?? 0)
            try? await Task.sleep(for: .milliseconds(50))
        }
        return peak
    }
}
