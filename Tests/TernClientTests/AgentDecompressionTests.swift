import NIOCore
import TernClient
import XCTest

/// gzip and deflate response bodies (zlib streams made by NIOHTTPCompression on the server side).
final class AgentDecompressionTests: XCTestCase {
    func testGzipAndDeflateAreDecompressed() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        for encoding in ["gzip", "deflate"] {
            let response = try await agent.get(server.url("/\(encoding)"))
            XCTAssertEqual(response.status.code, 200)
            let text = try await response.string()
            XCTAssertEqual(text.count, TestPayloads.text.count, encoding)
            XCTAssertTrue(text == TestPayloads.text, encoding)
        }
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testCompressedChunkedBodies() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        for encoding in ["gzip", "deflate"] {
            let response = try await agent.get(server.url("/\(encoding)?chunked"))
            XCTAssertEqual(response.headerFields[.transferEncoding], "chunked")
            let text = try await response.string()
            XCTAssertTrue(text == TestPayloads.text, encoding)
        }
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testDisabledDecompressionReturnsTheEncodedBytes() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.decompression = .disabled }
        let response = try await agent.get(server.url("/gzip"))
        XCTAssertEqual(response.headerFields[.contentEncoding], "gzip")
        try await assertEqual(await response.bytes(), TestPayloads.compressedText(encoding: "gzip"))
    }

    func testLargeDecompressedBodyWithinTheLimit() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.decompression = .enabled(limit: 64 << 20) }
        for encoding in ["gzip", "deflate"] {
            let response = try await agent.get(server.url("/\(encoding)?n=\(32 << 20)"))
            var total = 0
            var allZero = true
            for try await buffer in response.body {
                total += buffer.readableBytes
                // ByteBuffer's == compares with memcmp: byte loops are too slow in debug builds
                allZero = allZero && buffer == ByteBuffer(repeating: 0, count: buffer.readableBytes)
            }
            XCTAssertEqual(total, 32 << 20, encoding)
            XCTAssertTrue(allZero, encoding)
        }
    }

    func testDecompressionLimitIsEnforced() async throws {
        let server = try await startServer()
        let agent = makeAgent { $0.decompression = .enabled(limit: 1 << 20) }
        for encoding in ["gzip", "deflate"] {
            // 8 KiB on the wire, 16 MiB decompressed
            await assertThrowsTernError(oneOf: [.decompressionFailed, .bodyTooLarge]) {
                let response = try await agent.get(server.url("/\(encoding)?n=\(16 << 20)"))
                return try await response.countBodyBytes()
            }
        }
        let small = try await agent.get(server.url("/gzip?n=\(512 << 10)"))
        try await assertEqual(await small.countBodyBytes(), 512 << 10)
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }

    func testCorruptGzipFails() async throws {
        let server = try await startServer()
        let agent = makeAgent()
        await assertThrowsTernError(code: .decompressionFailed) {
            let response = try await agent.get(server.url("/bad-gzip"))
            return try await response.bytes()
        }
        try await assertEqual(await agent.getString(server.url("/hello")), "Hello, world!")
    }
}
