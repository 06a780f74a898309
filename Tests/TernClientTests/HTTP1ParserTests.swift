import NIOCore
import NIOEmbedded
import NIOHTTP1
import TernTestSupport
import XCTest

@testable import TernClient

/// `HTTP1Parser` and `HTTP1Writer` without IO: bytes in, events out (and parts in, bytes out).
final class HTTP1ParserTests: XCTestCase {
    private func requestParser(maxHeadBytes: Int = 8192, maxFieldCount: Int = 100) -> HTTP1Parser {
        HTTP1Parser(kind: .request, maxHeadBytes: maxHeadBytes, maxFieldCount: maxFieldCount)
    }

    private func responseParser(answeringHEAD: Bool = false) -> HTTP1Parser {
        var parser = HTTP1Parser(kind: .response, maxHeadBytes: 8192, maxFieldCount: 100)
        parser.answeringHEAD = answeringHEAD
        return parser
    }

    /// Feeds `chunks` one after another as reads, as a codec does; returns the events (body parts
    /// joined into one) and the error, if any.
    private func parse(_ parser: inout HTTP1Parser, _ chunks: [String], finish: Bool = false) -> (events: [Simple], error: HTTPParserError?) {
        var input = HTTP1Input(parser)
        var events: [Simple] = []
        defer { parser = input.parser }
        do {
            for chunk in chunks {
                input.append(ByteBuffer(string: chunk))
                while !input.parser.hasStopped, let event = try input.next() { events.append(Simple(event)) }
            }
            if finish, let event = try input.parser.finish() { events.append(Simple(event)) }
        } catch {
            return (Simple.joined(events), error)
        }
        return (Simple.joined(events), nil)
    }

    /// Events as plain values, body parts as text.
    enum Simple: Equatable {
        case request(String, String, String, [String])
        case response(UInt, String, [String])
        case body(String)
        case end([String]?)

        init(_ event: HTTP1Parser.Event) {
            switch event {
            case .requestHead(let head):
                self = .request(head.method.rawValue, head.uri, "\(head.version)", head.headers.map { "\($0.name)=\($0.value)" })
            case .responseHead(let head):
                self = .response(head.status.code, head.status.reasonPhrase, head.headers.map { "\($0.name)=\($0.value)" })
            case .body(let buffer):
                self = .body(String(buffer: buffer))
            case .end(let trailers):
                self = .end(trailers.map { $0.map { "\($0.name)=\($0.value)" } })
            }
        }

        static func joined(_ events: [Simple]) -> [Simple] {
            var result: [Simple] = []
            for event in events {
                if case .body(let more) = event, case .body(let text)? = result.last {
                    result[result.count - 1] = .body(text + more)
                } else {
                    result.append(event)
                }
            }
            return result
        }
    }

    // MARK: Requests

    func testRequestHeadFieldsAndEnd() {
        var parser = self.requestParser()
        let (events, error) = self.parse(&parser, ["GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Tab:\t a\tb \r\nEmpty:\r\n\r\n"])
        XCTAssertNil(error)
        XCTAssertEqual(events, [.request("GET", "/a?b=c", "HTTP/1.1", ["Host=x", "X-Tab=a\tb", "Empty="]), .end(nil)])
    }

    func testEveryPrefixSplitGivesTheSameEvents() {
        let text = "\r\nPOST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            + "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: v\r\n\r\n"
            + "GET /last HTTP/1.0\r\n\r\n"
        let expected: [Simple] = [
            .request("POST", "/u", "HTTP/1.1", ["Host=x", "Content-Length=5"]), .body("hello"), .end(nil),
            .request("PUT", "/c", "HTTP/1.1", ["Host=x", "Transfer-Encoding=chunked"]), .body("helloabcdefghijklmnopqrstuvwxyz"),
            .end(["T=v"]),
            .request("GET", "/last", "HTTP/1.0", []), .end(nil),
        ]
        var whole = self.requestParser()
        XCTAssertEqual(self.parse(&whole, [text]).events, expected)
        // Byte by byte, and cut at every point into two reads.
        var bytewise = self.requestParser()
        XCTAssertEqual(self.parse(&bytewise, text.map { String($0) }).events, expected)
        let bytes = Array(text.utf8)
        for cut in 1..<bytes.count {
            var parser = self.requestParser()
            let chunks = [String(decoding: bytes[..<cut], as: UTF8.self), String(decoding: bytes[cut...], as: UTF8.self)]
            let (events, error) = self.parse(&parser, chunks)
            XCTAssertNil(error, "cut at \(cut)")
            XCTAssertEqual(events, expected, "cut at \(cut)")
        }
    }

    func testMethodsAndTheirNames() {
        for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PROPFIND", "MKCOL"] {
            var parser = self.requestParser()
            let (events, _) = self.parse(&parser, ["\(method) /p HTTP/1.1\r\nHost: x\r\n\r\n"])
            guard case .request(let name, _, _, _)? = events.first else { return XCTFail(method) }
            XCTAssertEqual(name, method)
        }
    }

    func testMalformedRequestsAreErrors() {
        let cases: [(String, String)] = [
            ("bare LF", "GET / HTTP/1.1\nHost: x\n\n"),
            ("bare LF in fields", "GET / HTTP/1.1\r\nHost: x\n\r\n"),
            ("bare CR", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"),
            ("obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"),
            ("space before colon", "GET / HTTP/1.1\r\nX : a\r\n\r\n"),
            ("no colon", "GET / HTTP/1.1\r\nX a\r\n\r\n"),
            ("empty name", "GET / HTTP/1.1\r\n: a\r\n\r\n"),
            ("NUL in a value", "GET / HTTP/1.1\r\nX: a\u{0}b\r\n\r\n"),
            ("DEL in a value", "GET / HTTP/1.1\r\nX: a\u{7f}\r\n\r\n"),
            ("NUL in the target", "GET /a\u{0} HTTP/1.1\r\n\r\n"),
            ("two spaces", "GET  / HTTP/1.1\r\n\r\n"),
            ("no target", "GET HTTP/1.1\r\n\r\n"),
            ("HTTP/2.0", "GET / HTTP/2.0\r\n\r\n"),
            ("HTTP/1.1x", "GET / HTTP/1.1x\r\n\r\n"),
            ("lowercase http", "GET / http/1.1\r\n\r\n"),
            ("bad method", "G(T / HTTP/1.1\r\n\r\n"),
            ("unknown method", "GETGET / HTTP/1.1\r\n\r\n"),
            ("lowercase method", "get / HTTP/1.1\r\n\r\n"),
            ("non-ASCII in the target", "GET /\u{e9} HTTP/1.1\r\n\r\n"),
            ("HTTP/1.2", "GET / HTTP/1.2\r\n\r\n"),
            ("chunk size not hex", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            ("chunk size 17 digits", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n"),
            ("chunk size negative", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n"),
            ("chunk data too long", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n"),
            ("chunk line bare LF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n"),
            ("chunk extension control byte", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a\u{1}=b\r\nhello\r\n"),
            ("chunk size trailing space", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n"),
            ("bad trailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT : v\r\n\r\n"),
        ]
        for (name, text) in cases {
            var parser = self.requestParser()
            let (_, error) = self.parse(&parser, [text])
            XCTAssertNotNil(error, name)
            XCTAssertNotEqual(error, .headerOverflow, name)
            XCTAssertTrue(parser.hasStopped, "\(name): nothing is parsed after an error")
        }
    }

    func testBinaryIsRefusedBeforeAnyLineEnd() {
        // The start of a TLS ClientHello: no LF will come; the parser must not wait for one.
        var input = HTTP1Input(self.requestParser())
        input.append(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]))
        XCTAssertThrowsError(try input.next()) { XCTAssertEqual($0 as? HTTPParserError, .invalidCharactersUsed) }
        // A bare CR inside a line that has not ended, and a NUL in a field still coming.
        var bareCR = self.requestParser()
        XCTAssertEqual(self.parse(&bareCR, ["GET / HTTP/1.1\r\nX: a\rb"]).error, .invalidCharactersUsed)
        var nul = self.requestParser()
        XCTAssertEqual(self.parse(&nul, ["GET / HTTP/1.1\r\nX: a\u{0}"]).error, .invalidCharactersUsed)
        // A request line that goes wrong is refused at its first wrong byte, before its end comes.
        for partial in ["GET /a b", "GET / HTTP/2", "GET / HTTP/1.1x", "G{T /", "GET  /", "GET /\u{7f}"] {
            var parser = self.requestParser()
            XCTAssertEqual(self.parse(&parser, [partial]).error, .invalidCharactersUsed, partial.debugDescription)
        }
        var fine = self.requestParser()
        XCTAssertNil(self.parse(&fine, ["\r\nGET /a?b=c HTTP/1."]).error, "a line that is right so far waits")
        XCTAssertFalse(fine.hasStopped)
        // A CR at the end of what came so far is not yet bare.
        var waiting = self.requestParser()
        let (events, error) = self.parse(&waiting, ["GET / HTTP/1.1\r", "\nHost: x\r", "\n\r", "\n"])
        XCTAssertNil(error)
        XCTAssertEqual(events.count, 2)
    }

    func testFieldLinesAreScannedEightBytesAtATimeWithoutMissingAControlByte() {
        // The word test, for every byte value at every position among harmless ones.
        for position in 0..<8 {
            for value in 0...255 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 8)
                bytes[position] = UInt8(value)
                let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                let control = value < 0x20 || value == 0x7F
                XCTAssertEqual(HTTP1Parser.controlBytes(word) == 0, !control, "byte \(value) at \(position)")
            }
        }
        // The scan jumps to the first control byte of a word: its offset is exact whatever the
        // bytes after it are (a borrow may flag those falsely, never one before).
        for position in 0..<8 {
            for value in (0...255).map(UInt8.init) where value < 0x20 || value == 0x7F {
                for after: UInt8 in [0x00, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0xFF] {
                    var bytes = [UInt8](repeating: 0xFF, count: 8)
                    for index in 0..<position { bytes[index] = [0x20, 0x80, 0xFF, 0x21][index % 4] }
                    bytes[position] = value
                    for index in (position + 1)..<8 { bytes[index] = after }
                    let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    XCTAssertEqual(HTTP1Parser.firstFlagged(HTTP1Parser.controlBytes(word)), position, "byte \(value) at \(position), then \(after)")
                }
            }
        }
        // And in the parser: a long field with a control byte at each offset (values with
        // obs-text around it) is refused; without one, it is read whole.
        let value = "\u{e9}abcdefghijklmnopqrstuvwxyz0123456789"
        for offset in 0..<value.utf8.count {
            var bytes = Array("GET / HTTP/1.1\r\nHost: x\r\nX-Long: ".utf8) + Array(value.utf8)
            bytes.insert(0x01, at: bytes.count - value.utf8.count + offset)
            var input = HTTP1Input(self.requestParser())
            input.append(ByteBuffer(bytes: bytes + Array("\r\n\r\n".utf8)))
            XCTAssertThrowsError(try input.next(), "offset \(offset)") { XCTAssertEqual($0 as? HTTPParserError, .invalidCharactersUsed) }
            var parser = self.requestParser()
            let (events, error) = self.parse(&parser, ["GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + value + "\t\r\n\r\n"])
            XCTAssertNil(error)
            XCTAssertEqual(events.first, .request("GET", "/", "HTTP/1.1", ["Host=x", "X-Long=" + value]))
        }
    }

    func testHeadLimitsAreHeaderOverflow() {
        var long = self.requestParser(maxHeadBytes: 100)
        XCTAssertEqual(self.parse(&long, ["GET / HTTP/1.1\r\nX: \(String(repeating: "a", count: 200))\r\n\r\n"]).error, .headerOverflow)
        // Also while the line is still coming: the parser does not wait for its end to refuse it.
        var coming = self.requestParser(maxHeadBytes: 100)
        XCTAssertEqual(self.parse(&coming, ["GET / HTTP/1.1\r\nX: \(String(repeating: "a", count: 200))"]).error, .headerOverflow)
        var many = self.requestParser(maxFieldCount: 3)
        XCTAssertEqual(self.parse(&many, ["GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"]).error, .headerOverflow)
        var empties = self.requestParser(maxHeadBytes: 100)
        XCTAssertEqual(self.parse(&empties, [String(repeating: "\r\n", count: 60)]).error, .headerOverflow)
    }

    func testUnknowableFramingStopsAfterTheHead() {
        // RequestRules refuses these heads; the parser hands the head on and reads nothing more.
        for fields in [
            "Content-Length: 5\r\nTransfer-Encoding: chunked", "Content-Length: 5\r\nContent-Length: 6", "Content-Length: 5, 6",
            "Content-Length: +5", "Transfer-Encoding: gzip", "Transfer-Encoding: gzip, chunked",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
        ] {
            var parser = self.requestParser()
            let (events, error) = self.parse(&parser, ["POST / HTTP/1.1\r\nHost: x\r\n\(fields)\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"])
            XCTAssertNil(error, fields)
            XCTAssertEqual(events.count, 1, "\(fields): \(events)")
            XCTAssertTrue(parser.hasStopped, fields)
        }
        var http10 = self.requestParser()
        XCTAssertEqual(self.parse(&http10, ["POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"]).events.count, 1)
        XCTAssertTrue(http10.hasStopped)
        // Equal lengths are one length.
        var equal = self.requestParser()
        let (events, _) = self.parse(&equal, ["POST / HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok"])
        XCTAssertEqual(events.dropFirst(), [.body("ok"), .end(nil)])
    }

    func testParsingStopsAfterAnUpgradeRequestOrCONNECT() {
        var upgrade = self.requestParser()
        let (events, _) = self.parse(
            &upgrade, ["GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n\u{81}\u{5}frame"])
        XCTAssertEqual(events.count, 2)
        XCTAssertEqual(events.last, .end(nil))
        XCTAssertTrue(upgrade.hasStopped)
        var connect = self.requestParser()
        XCTAssertEqual(self.parse(&connect, ["CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\nbytes"]).events.count, 2)
        XCTAssertTrue(connect.hasStopped)
        // `Upgrade` without `Connection: upgrade` is an ordinary request.
        var plain = self.requestParser()
        XCTAssertEqual(self.parse(&plain, ["GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET / HTTP/1.1\r\n\r\n"]).events.count, 4)
    }

    /// Seeded random mutations of well-formed messages: the parser must not trap, and wherever the
    /// bytes are cut into reads, it must give the same events and the same error as when they
    /// come whole.
    func testRandomInputsGiveTheSameEventsWhereverTheyAreCut() {
        let corpus = [
            "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.0\r\n\r\n",
            "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: v\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest",
        ]
        var random = SeededGenerator(seed: 0x4854_5450)
        for index in 0..<3000 {
            let source = corpus[index % corpus.count]
            let kind: HTTP1Parser.Kind = source.hasPrefix("HTTP/") ? .response : .request
            var bytes = Array(source.utf8)
            for _ in 0..<Int(random.next() % 4) {
                let position = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[position] = [0x0D, 0x0A, 0x00, 0x20, 0x3A, 0x3B, 0x30, 0x66, 0x7F, 0xC3][Int(random.next() % 10)]
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
                }
                if bytes.isEmpty { bytes = [0x0D] }
            }
            let whole = self.events(kind, [bytes])
            let first = Int(random.next() % UInt64(bytes.count + 1))
            let second = first + Int(random.next() % UInt64(bytes.count - first + 1))
            let cut = self.events(kind, [Array(bytes[..<first]), Array(bytes[first..<second]), Array(bytes[second...])])
            XCTAssertEqual(cut.events, whole.events, "input \(index) cut at \(first), \(second): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            XCTAssertEqual(cut.error, whole.error, "input \(index)")
        }
    }

    /// A request line that is all there is read by a fast path (`wholeRequestLine`, the target
    /// eight bytes at a time) that must accept exactly what the byte-by-byte check accepts: every
    /// line here, whole, gives the events and the error it gives cut after its first byte (which
    /// leaves the line to the byte-by-byte search, over the same bytes) and a byte at a time.
    func testWholeRequestLinesAreReadAsByteByByte() {
        let targets = ["/", "/1234567", "/12345678", "/123456789abcdef", "/123456789abcdefg", "*", "http://h:1/a?b=c#d"]
        let methods = ["GET", "M", String(repeating: "X", count: 23), String(repeating: "Y", count: 24), String(repeating: "Z", count: 25)]
        let awkward: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0xFF, UInt8(ascii: "h"), UInt8(ascii: "2"), UInt8(ascii: "(")]
        var lines = 0
        for method in methods {
            for target in targets {
                for version in ["HTTP/1.1", "HTTP/1.0"] {
                    let line = Array("\(method) \(target) \(version)\r\n".utf8)
                    for variant in Self.variants(of: line, replacingWith: awkward) {
                        // Head limits around the line's own length, and a roomy one.
                        for limit in [line.count - 3, line.count - 2, line.count - 1, line.count, 200] {
                            self.checkSameHoweverItArrives(variant + Array("Host: x\r\n\r\n".utf8), limit: limit)
                            lines += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(lines, 10_000)
    }

    /// Field lines share the request line's search: one that runs to the head's limit, with any of
    /// its bytes replaced by an awkward one, gives the same events and error whole, cut after the
    /// head's first byte, and a byte at a time.
    func testFieldLinesAtTheLimitAreJudgedTheSameHoweverTheyArrive() {
        let start = Array("GET / HTTP/1.1\r\n".utf8)
        let field = Array("X-Field: a value\r\n".utf8)
        let awkward: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x20, 0x3A, 0x7F, 0x80, 0xFF]
        let head = start.count + field.count
        for variant in Self.variants(of: field, replacingWith: awkward) {
            for limit in (head - 4)...(head + 2) {
                self.checkSameHoweverItArrives(start + variant + Array("\r\n".utf8), limit: limit)
            }
        }
    }

    /// A field name is read eight bytes at a time while they are letters, digits or `-`, then a
    /// byte at a time: names of every length to 20 (across two words and a tail), each byte
    /// replaced in turn by every printable and high byte value, give the name (or the error) the
    /// byte-by-byte reading gives.
    func testFieldNamesAreReadAsByteByByte() {
        let full = Array("X-Content-Length-Foo".utf8)
        for length in 1...full.count {
            for position in 0..<length {
                for value in 0x20...0xFF where value != 0x7F {
                    var name = Array(full[0..<length])
                    name[position] = UInt8(value)
                    let input = Array("GET / HTTP/1.1\r\nHost: a\r\n".utf8) + name + Array(": v\r\n\r\n".utf8)
                    // The reading the parser had: token bytes up to the first other, which must be a colon after one or more.
                    var end = 0
                    while end < name.count, HTTP1Parser.isTokenByte(name[end]) { end += 1 }
                    let (events, error) = self.events(.request, [input], maxHeadBytes: 8192)
                    let text = String(decoding: name, as: UTF8.self).debugDescription
                    if end == name.count || (name[end] == UInt8(ascii: ":") && end > 0) {
                        XCTAssertNil(error, text)
                        guard case .request(_, _, _, let fields)? = events.first, fields.count == 2 else {
                            XCTFail("\(text): \(events)")
                            continue
                        }
                        XCTAssertEqual(Array(fields[1].utf8.prefix(end + 1)), Array(name[0..<end]) + [UInt8(ascii: "=")], text)
                    } else {
                        XCTAssertEqual(error, .invalidHeaderToken, text)
                    }
                }
            }
        }
    }

    /// `bytes`, then `bytes` with each of its bytes replaced in turn by each of `awkward` (but itself).
    private static func variants(of bytes: [UInt8], replacingWith awkward: [UInt8]) -> [[UInt8]] {
        var variants = [bytes]
        for position in bytes.indices {
            for byte in awkward where byte != bytes[position] {
                var variant = bytes
                variant[position] = byte
                variants.append(variant)
            }
        }
        return variants
    }

    /// The request bytes `input` give the same events and error under the head limit `limit` whole,
    /// cut after their first byte (the line then goes to the byte-by-byte search over the same
    /// bytes), and a byte at a time.
    private func checkSameHoweverItArrives(_ input: [UInt8], limit: Int) {
        let whole = self.events(.request, [input], maxHeadBytes: limit)
        let searched = self.events(.request, [[input[0]], Array(input.dropFirst())], maxHeadBytes: limit)
        let bytewise = self.events(.request, input.map { [$0] }, maxHeadBytes: limit)
        let text = "\(String(decoding: input, as: UTF8.self).debugDescription) limit \(limit)"
        XCTAssertEqual(whole.events, searched.events, text)
        XCTAssertEqual(whole.error, searched.error, text)
        XCTAssertEqual(whole.events, bytewise.events, text)
        XCTAssertEqual(whole.error, bytewise.error, text)
    }

    private func events(_ kind: HTTP1Parser.Kind, _ reads: [[UInt8]], maxHeadBytes: Int = 200) -> (events: [Simple], error: HTTPParserError?) {
        var input = HTTP1Input(HTTP1Parser(kind: kind, maxHeadBytes: maxHeadBytes, maxFieldCount: 10))
        var events: [Simple] = []
        do {
            for read in reads {
                input.append(ByteBuffer(bytes: read))
                while !input.parser.hasStopped, let event = try input.next() { events.append(Simple(event)) }
            }
            if let event = try input.parser.finish() { events.append(Simple(event)) }
        } catch {
            return (Simple.joined(events), error)
        }
        return (Simple.joined(events), nil)
    }

    // MARK: Responses

    func testResponseFraming() {
        var parser = self.responseParser()
        let (events, error) = self.parse(
            &parser,
            [
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
                "HTTP/1.1 404\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n",
                "HTTP/1.1 599 Odd Reason\r\nContent-Length: 0\r\n\r\n",
            ])
        XCTAssertNil(error)
        XCTAssertEqual(
            events,
            [
                .response(200, "OK", ["Content-Length=2"]), .body("ok"), .end(nil),
                .response(204, "No Content", ["Content-Length=9"]), .end(nil),
                .response(404, "Not Found", ["Transfer-Encoding=gzip, chunked"]), .body("no"), .end(nil),
                .response(599, "Odd Reason", ["Content-Length=0"]), .end(nil),
            ])
    }

    /// The parser fills a response head it handed on again when nobody holds it any more (its
    /// storage reused): a head someone kept stays as it was, and one let go comes back right.
    func testResponseHeadsAreTheirOwnWhetherKeptOrNot() throws {
        var input = HTTP1Input(self.responseParser())
        let responses = [
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 599 Odd Reason\r\nA: b\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n",
        ]
        var kept: [HTTPResponseHead] = []
        var seen: [String] = []
        for (index, response) in responses.enumerated() {
            input.append(ByteBuffer(string: response))
            while let event = try input.next() {
                guard case .responseHead(let head) = event else { continue }
                seen.append("\(head.version) \(head.status.code) \(head.status.reasonPhrase) \(head.headers.count)")
                if index % 2 == 0 { kept.append(head) }  // the others are let go at once
            }
        }
        XCTAssertEqual(seen, ["HTTP/1.1 200 OK 1", "HTTP/1.0 404 Not Found 1", "HTTP/1.1 599 Odd Reason 2", "HTTP/1.1 204 No Content 0"])
        XCTAssertEqual(kept.map { "\($0.version) \($0.status.code) \($0.headers.count)" }, ["HTTP/1.1 200 1", "HTTP/1.1 599 2"])
    }

    /// As `testResponseHeadsAreTheirOwnWhetherKeptOrNot`, for request heads.
    func testRequestHeadsAreTheirOwnWhetherKeptOrNot() throws {
        var input = HTTP1Input(self.requestParser())
        let requests = [
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD /a-longer-target-than-fits-in-a-small-string HTTP/1.0\r\n\r\n",
            "POST /b HTTP/1.1\r\nHost: y\r\nContent-Length: 0\r\n\r\n", "DELETE /c?d=e HTTP/1.1\r\nHost: z\r\n\r\n",
        ]
        var kept: [HTTPRequestHead] = []
        var seen: [String] = []
        for (index, request) in requests.enumerated() {
            input.append(ByteBuffer(string: request))
            while let event = try input.next() {
                guard case .requestHead(let head) = event else { continue }
                seen.append("\(head.method.rawValue) \(head.uri) \(head.version) \(head.headers.count)")
                if index % 2 == 0 { kept.append(head) }  // the others are let go at once
            }
        }
        XCTAssertEqual(
            seen,
            [
                "GET /a HTTP/1.1 1", "HEAD /a-longer-target-than-fits-in-a-small-string HTTP/1.0 0", "POST /b HTTP/1.1 2",
                "DELETE /c?d=e HTTP/1.1 1",
            ])
        XCTAssertEqual(kept.map { "\($0.method.rawValue) \($0.uri) \($0.headers.count)" }, ["GET /a 1", "POST /b 2"])
    }

    func testResponseToHEADHasNoBody() {
        var parser = self.responseParser(answeringHEAD: true)
        let (events, _) = self.parse(&parser, ["HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"])
        XCTAssertEqual(events, [.response(200, "OK", ["Content-Length=1000"]), .end(nil)])
    }

    func testResponseBodyWithoutFramingEndsWithTheConnection() {
        var parser = self.responseParser()
        let (events, error) = self.parse(&parser, ["HTTP/1.0 200 OK\r\n\r\nall of ", "this"], finish: true)
        XCTAssertNil(error)
        XCTAssertEqual(events, [.response(200, "OK", []), .body("all of this"), .end(nil)])
        // A transfer coding other than chunked, too.
        var coded = self.responseParser()
        XCTAssertEqual(self.parse(&coded, ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz"], finish: true).events.last, .end(nil))
    }

    func testResponseCutShortIsInvalidEOFState() {
        for text in ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "HTTP/1.1 200 OK\r\nContent-", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"] {
            var parser = self.responseParser()
            XCTAssertEqual(self.parse(&parser, [text], finish: true).error, .invalidEOFState, text)
        }
        var idle = self.responseParser()
        let (events, error) = self.parse(&idle, ["HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], finish: true)
        XCTAssertNil(error, "a connection that ends between messages cuts nothing short")
        XCTAssertEqual(events.count, 2)
    }

    func testMalformedResponsesAreErrors() {
        for text in [
            "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "ICY 200 OK\r\n\r\n",
        ] {
            var parser = self.responseParser()
            XCTAssertNotNil(self.parse(&parser, [text]).error, text)
        }
    }

    func testA101StopsParsingAndLeavesTheRest() {
        var input = HTTP1Input(self.responseParser())
        input.append(ByteBuffer(bytes: Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".utf8) + [0x81, 0x02, 0x68, 0x69]))
        var events: [Simple] = []
        while !input.parser.hasStopped, let event = try? input.next() { events.append(Simple(event)) }
        XCTAssertEqual(events, [.response(101, "Switching Protocols", ["Upgrade=websocket"]), .end(nil)])
        XCTAssertEqual(input.takeRest().map { Array($0.readableBytesView) }, [0x81, 0x02, 0x68, 0x69])
    }

    func testPendingMethodsKeepOrderPastSixtyFour() {
        var pending = PendingMethods()
        let methods: [HTTPMethod] = (0..<150).map { $0 % 7 == 0 ? .HEAD : $0 % 11 == 0 ? .CONNECT : .GET }
        for method in methods { pending.append(method) }
        for method in methods {
            XCTAssertFalse(pending.isEmpty)
            XCTAssertEqual(pending.firstIsHEAD, method == .HEAD)
            XCTAssertEqual(pending.firstIsCONNECT, method == .CONNECT)
            pending.removeFirst()
        }
        XCTAssertTrue(pending.isEmpty)
    }

    // MARK: Writing (through the client codec, on an embedded channel)

    private func written(_ parts: [HTTPClientRequestPart]) throws -> String {
        let channel = EmbeddedChannel(handler: HTTP1ClientCodec(maxHeadBytes: 8192))
        for part in parts { try channel.writeOutbound(part) }
        channel.flush()
        var text = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { text += buffer.readString(length: buffer.readableBytes) ?? "" }
        _ = try? channel.finish()
        return text
    }

    func testRequestFramingFollowsNIOsEncoder() throws {
        func head(_ method: HTTPMethod, _ fields: [(String, String)] = []) -> HTTPRequestHead {
            HTTPRequestHead(version: .http1_1, method: method, uri: "/p", headers: HTTPHeaders(fields))
        }
        XCTAssertEqual(try self.written([.head(head(.GET, [("Host", "x")])), .end(nil)]), "GET /p HTTP/1.1\r\nHost: x\r\n\r\n")
        // A POST without a length is chunked; parts are framed, the end is the last chunk.
        XCTAssertEqual(
            try self.written([.head(head(.POST)), .body(.byteBuffer(ByteBuffer(string: "hello"))), .body(.byteBuffer(ByteBuffer())), .end(nil)]),
            "POST /p HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        // With a length: sent as it is, any Transfer-Encoding dropped.
        XCTAssertEqual(
            try self.written([.head(head(.PUT, [("Content-Length", "2"), ("Transfer-Encoding", "chunked")])), .body(.byteBuffer(ByteBuffer(string: "ok"))), .end(nil)]),
            "PUT /p HTTP/1.1\r\nContent-Length: 2\r\n\r\nok")
        // Trailers after a chunked body; a large part written apart from the gathered head.
        let large = String(repeating: "z", count: HTTP1Writer.gatherLimit + 1)
        XCTAssertEqual(
            try self.written([.head(head(.POST)), .body(.byteBuffer(ByteBuffer(string: large))), .end(HTTPHeaders([("T", "v")]))]),
            "POST /p HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n\(String(large.utf8.count, radix: 16))\r\n\(large)\r\n0\r\nT: v\r\n\r\n")
        // TRACE has no body: its framing fields go.
        XCTAssertEqual(try self.written([.head(head(.TRACE, [("Content-Length", "0")])), .end(nil)]), "TRACE /p HTTP/1.1\r\n\r\n")
    }

    /// What a request execution knows of its head once its framing fields are set (its
    /// `framing` and `keepsAlive`) is what the writer and `isKeepAlive` would read from the head;
    /// and told what the fields hold, it sets them alike without reading them.
    func testExecutionFramingIsWhatTheWriterWouldRead() {
        let methods: [HTTPMethod] = [.GET, .HEAD, .POST, .PUT, .PATCH, .DELETE, .OPTIONS, .TRACE, .RAW(value: "PURGE")]
        let bodies: [RequestBody] = [.none, .bytes(ByteBuffer(string: "abc")), .bytes(ByteBuffer()), .stream(length: 5), .stream(length: nil)]
        let fieldSets: [[(String, String)]] = [
            [], [("Host", "x")], [("Content-Length", "9"), ("Transfer-Encoding", "gzip, chunked")], [("transfer-encoding", "chunked")],
            [("Connection", "close")], [("Connection", "Keep-Alive")], [("connection", "keep-alive, close"), ("Connection", "x")],
            [("Content-Length", "1"), ("Content-Length", "2"), ("Connection", "upgrade")],
        ]
        var cases = 0
        for method in methods {
            for body in bodies {
                for version in [HTTPVersion.http1_1, .http1_0] {
                    for fields in fieldSets {
                        var head = HTTPRequestHead(version: version, method: method, uri: "/", headers: HTTPHeaders(fields))
                        let before = head
                        let keepsAlive = RequestExecution.normalizeFraming(&head, body: body)
                        XCTAssertEqual(keepsAlive, before.keepsAlive, "\(method) \(version) \(fields)")
                        // Told what the fields hold (`KnownRequestFields`), it does the same without reading them.
                        var told = before
                        XCTAssertEqual(
                            RequestExecution.normalizeFraming(&told, body: body, known: KnownRequestFields(reading: before.headers)), keepsAlive)
                        XCTAssertEqual(told, head, "\(method) \(body) \(version) \(fields)")
                        XCTAssertEqual(
                            RequestExecution.framing(head.method, version: head.version, body: body), HTTP1Writer.requestFraming(head),
                            "\(method) \(body) \(version) \(fields)")
                        cases += 1
                    }
                }
            }
        }
        XCTAssertEqual(cases, 720)
    }

    /// The writer copies fields into stretches of its buffer reserved at once; heads larger than a
    /// stretch, fields larger than one, and a tail that does not fit come out whole and in order.
    func testHeadsOfEverySizeAreWrittenWhole() throws {
        for sizes in [[10], [1000, 30], [1015, 1, 1], [5000], [700, 700, 700, 3000, 5], Array(repeating: 60, count: 100)] {
            let fields = sizes.enumerated().map { ("X-\($0.offset)", String(repeating: "v", count: $0.element)) }
            let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/p", headers: HTTPHeaders(fields))
            let expected = "POST /p HTTP/1.1\r\n" + fields.map { "\($0.0): \($0.1)\r\n" }.joined()
                + "transfer-encoding: chunked\r\n\r\n0\r\n\r\n"
            XCTAssertEqual(try self.written([.head(head), .end(nil)]), expected, "\(sizes)")
        }
        // Response heads passed on: the fields whose bits are set are left out, ours go after the rest.
        var writer = HTTP1Writer()
        let fields: [(String, String)] = (0..<70).map { ("F\($0)", String(repeating: "w", count: $0 * 20)) }
        let omit: UInt64 = 1 << 0 | 1 << 3 | 1 << 63
        writer.responseHead(
            HTTPResponseHead(version: .http1_1, status: .ok, headers: HTTPHeaders(fields + [("Content-Length", "0")])),
            framing: .dropCoding, suppressBody: false, omitting: omit, adding: ("Via", "1.1 tern"), ("Connection", "close"))
        let channel = EmbeddedChannel(handler: ChannelOutboundHandlerBox())
        let context = try channel.pipeline.syncOperations.context(handlerType: ChannelOutboundHandlerBox.self)
        writer.end(nil, context: context, promise: nil)
        context.flush()
        var out = try XCTUnwrap(try channel.readOutbound(as: ByteBuffer.self))
        let kept = fields.enumerated().filter { omit & (1 << UInt64($0.offset)) == 0 || $0.offset >= 64 }.map(\.element)
        XCTAssertEqual(
            out.readString(length: out.readableBytes),
            "HTTP/1.1 200 OK\r\n" + (kept + [("Content-Length", "0"), ("Via", "1.1 tern"), ("Connection", "close")]).map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n")
        _ = try? channel.finish()
    }

    func testTheCodecsResponseParsingKnowsTheRequestWasHEAD() throws {
        let channel = EmbeddedChannel(handler: HTTP1ClientCodec(maxHeadBytes: 8192))
        try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .HEAD, uri: "/")))
        try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")))
        try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"))
        var parts: [String] = []
        while let part = try channel.readInbound(as: HTTPClientResponsePart.self) {
            switch part {
            case .head(let head): parts.append("head \(head.status.code)")
            case .body(let body): parts.append("body \(String(buffer: body))")
            case .end: parts.append("end")
            }
        }
        XCTAssertEqual(parts, ["head 200", "end", "head 200", "body abc", "end"])
        _ = try? channel.finish()
    }
}

/// A handler that only gives tests a context to write from.
private final class ChannelOutboundHandlerBox: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
}
