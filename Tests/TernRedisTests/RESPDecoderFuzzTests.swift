import NIOCore
import TernTestSupport
import XCTest

@testable import TernRedis

/// Random and mutated bytes, fed in random-sized pieces: the decoder must never crash, never loop,
/// and never hold more than it was given. Seeded, so a failure reproduces.
final class RESPDecoderFuzzTests: XCTestCase {
    static let corpus: [String] = [
        "+OK\r\n", "-ERR unknown command\r\n", ":1000\r\n", "$6\r\nfoobar\r\n", "$-1\r\n", "*-1\r\n", "*0\r\n",
        "*3\r\n:1\r\n:2\r\n:3\r\n", "*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Foo\r\n-Bar\r\n", "_\r\n", "#t\r\n",
        ",1.23\r\n", ",-inf\r\n", "(3492890328409238509324850943850943825024385\r\n", "!21\r\nSYNTAX invalid syntax\r\n",
        "=15\r\ntxt:Some string\r\n", "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", "~3\r\n+a\r\n+b\r\n+c\r\n",
        ">3\r\n+message\r\n+chan\r\n$5\r\nhello\r\n", "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
    ]

    static let interesting: [UInt8] = Array("+-:$*_#,(!=%~>|?\r\n0123456789-".utf8)

    func testRandomAndMutatedInputNeverCrashesLoopsOrGrows() throws {
        var random = SeededGenerator(state: 0x7465_726E_7265_6469)
        let limits = RESPDecoder.Limits(maxDepth: 16, maxBulkLength: 4096, maxAggregateCount: 256, maxLineLength: 512)
        let iterations = 200_000
        var errors = 0
        var replies = 0
        for iteration in 0..<iterations {
            var input: [UInt8]
            switch iteration % 4 {
            case 0:
                // Pure noise, biased towards RESP's own characters.
                let length = Int.random(in: 0...64, using: &random)
                input = (0..<length).map { _ in
                    Bool.random(using: &random)
                        ? Self.interesting.randomElement(using: &random)!
                        : UInt8.random(in: 0...255, using: &random)
                }
            default:
                // Valid replies glued together, then mutated: bytes flipped, inserted, deleted, truncated.
                input = []
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    input += Array(Self.corpus.randomElement(using: &random)!.utf8)
                }
                for _ in 0..<Int.random(in: 0...4, using: &random) where !input.isEmpty {
                    let index = Int.random(in: 0..<input.count, using: &random)
                    switch Int.random(in: 0..<4, using: &random) {
                    case 0: input[index] = UInt8.random(in: 0...255, using: &random)
                    case 1: input.insert(Self.interesting.randomElement(using: &random)!, at: index)
                    case 2: input.remove(at: index)
                    default: input.removeSubrange(index...)
                    }
                }
            }

            var decoder = RESPDecoder(limits: limits)
            var buffer = ByteBuffer()
            var offset = 0
            var steps = 0
            feeding: while offset < input.count {
                let piece = min(input.count - offset, Int.random(in: 1...16, using: &random))
                buffer.writeBytes(input[offset..<(offset + piece)])
                offset += piece
                do {
                    while true {
                        let before = buffer.readableBytes
                        guard try decoder.decode(&buffer) != nil else { break }
                        replies += 1
                        // Each reply consumes bytes: no loop without progress.
                        XCTAssertLessThan(buffer.readableBytes, before)
                        steps += 1
                        XCTAssertLessThanOrEqual(steps, input.count, "more replies than bytes")
                    }
                } catch {
                    errors += 1
                    break feeding
                }
                // Nothing is held beyond what was given, and never more than one element's worth.
                XCTAssertLessThanOrEqual(buffer.readableBytes, offset)
                XCTAssertLessThanOrEqual(buffer.readableBytes, limits.maxBulkLength + limits.maxLineLength + 16)
                XCTAssertLessThanOrEqual(decoder.depth, limits.maxDepth)
            }
        }
        // Both paths were exercised.
        XCTAssertGreaterThan(errors, iterations / 10)
        XCTAssertGreaterThan(replies, iterations / 2)
    }

    /// A claimed huge aggregate does not reserve memory up front.
    func testHugeClaimedCountsDoNotAllocate() throws {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: "*4000000\r\n*4000000\r\n%2000000\r\n")
        XCTAssertNil(try decoder.decode(&buffer))
        XCTAssertEqual(decoder.depth, 3)
    }
}
