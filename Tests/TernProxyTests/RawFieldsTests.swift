import NIOCore
import NIOEmbedded
import NIOHTTP1
import TernTestSupport
import XCTest

@testable import TernClient
@testable import TernProxy

/// A response head whose fields the parser hands on as bytes (`HTTP1RawFields`, for the proxy)
/// must come to the same thing as one read into `HTTPHeaders`: the same facts, the same fields when
/// read, and the same bytes when written on (but for bytes that are not UTF-8, which the bytes keep
/// and the `String`s repair). Heads split across reads at any byte must too: the parser then makes
/// the fields into values as it goes.
final class RawFieldsTests: XCTestCase {
    func testFieldsKeptAsBytesSayWhatTheFieldsSay() throws {
        var random = SeededGenerator(seed: 0x8A_F1E1D5)
        var heads = 0
        var asBytes = 0
        var splitIntoValues = 0
        // Heads whose lines the writer copies whole (`isWritten`: every line `name: value` as it
        // writes them) and heads it writes again field by field: both must come out as the values do.
        var copiedWhole = 0
        var rewritten = 0
        for round in 0..<600 {
            let count = round % 10 == 9 ? Int.random(in: 60...80, using: &random) : Int.random(in: 0...8, using: &random)
            // A 204 has no body whatever its fields say, so the head behind it is read too.
            let status = round % 2 == 0 ? "204 No Content" : "200 OK"
            var bytes = Array((round % 3 == 0 ? "HTTP/1.0 \(status)\r\n" : "HTTP/1.1 \(status)\r\n").utf8)
            for _ in 0..<count {
                switch Int.random(in: 0..<14, using: &random) {
                case 0: bytes += Array("X-Raw: a".utf8) + [0xC3, 0x28, 0xFF, 0x80] + Array("\r\n".utf8)  // not UTF-8
                case 1: bytes += Array("X-Tight:v\r\n".utf8)  // no space after the colon: written with one
                case 2: bytes += Array("X-Empty: \t \r\n".utf8)
                case 3: bytes += Array("X-Pad: v \t\r\n".utf8)  // written without the padding
                case 4: bytes += Array("X-Lead:  v\r\n".utf8)
                default: bytes += Array((HeadFactsTests.responseFields.randomElement(using: &random)! + "\r\n").utf8)
                }
            }
            bytes += Array("\r\n".utf8)
            bytes += Array("HTTP/1.1 204 No Content\r\nX-After: 1\r\n\r\n".utf8)  // a second head behind it

            let expected = Self.parse([bytes], asBytes: false)
            guard !expected.isEmpty else { continue }
            let input = String(decoding: bytes, as: UTF8.self).debugDescription
            let whole = Self.parse([bytes], asBytes: true)
            XCTAssertEqual(whole.map(\.facts), expected.map(\.facts), input)
            XCTAssertEqual(whole.map { $0.raw != nil }, expected.map { _ in true }, input)
            for (got, want) in zip(whole, expected) {
                XCTAssertEqual(got.head.headers.count, 0, "a head with its fields as bytes has no HTTPHeaders: \(input)")
                XCTAssertEqual(Self.pairs(got.raw!.headers()), Self.pairs(want.head.headers), input)
                try self.checkWritten(got, want, input: input, random: &random)
                if got.raw!.bytes.readableBytes > 0 {
                    if got.raw!.isWritten { copiedWhole += 1 } else { rewritten += 1 }
                }
                heads += 1
                asBytes += 1
            }
            // The same bytes in pieces, cut at random.
            let split = Self.parse(Self.cut(bytes, &random), asBytes: true)
            XCTAssertEqual(split.map(\.facts), expected.map(\.facts), input)
            for (got, want) in zip(split, expected) {
                let fields = got.raw.map { $0.headers() } ?? got.head.headers
                XCTAssertEqual(Self.pairs(fields), Self.pairs(want.head.headers), input)
                if got.raw == nil {
                    splitIntoValues += 1
                } else {
                    XCTAssertEqual(got.head.headers.count, 0, input)
                }
                try self.checkWritten(got, want, input: input, random: &random)
            }
        }
        XCTAssertGreaterThan(asBytes, 800, "too few heads kept as bytes to say much: \(asBytes)")
        XCTAssertGreaterThan(splitIntoValues, 100, "too few split heads read into values: \(splitIntoValues)")
        XCTAssertGreaterThan(copiedWhole, 100, "too few heads with every line as the writer writes it: \(copiedWhole)")
        XCTAssertGreaterThan(rewritten, 100, "too few heads with a line the writer writes otherwise: \(rewritten)")
        XCTAssertGreaterThan(heads, 800)
    }

    /// Request heads too (the proxy's codec reads them so): for the fuzz test's seeded requests,
    /// whole and cut into random pieces, the parser with its fields as bytes hands on the same
    /// events, facts and errors as the one that reads them into values, and the fields read from
    /// the bytes (all of them, and `Host` alone) are the values'. A head read whole has no
    /// `HTTPHeaders`; one in pieces has no bytes.
    func testRequestFieldsKeptAsBytesSayWhatTheFieldsSay() throws {
        var random = SeededGenerator(seed: 0x8E0_F1E1D5)
        var whole = 0
        var split = 0
        for index in 0..<HardeningFuzzTests.inputs {
            let bytes = HardeningFuzzTests.input(index, &random) + Array("GET / HTTP/1.1\r\nHost: a\r\nX-Raw: a".utf8) + [0xFF]
                + Array("b\r\n\r\n".utf8)
            let input = String(decoding: bytes, as: UTF8.self).debugDescription
            let expected = Self.requestEvents([bytes], asBytes: false)
            let pieces = Self.cut(bytes, &random)
            for (cut, got) in [(false, Self.requestEvents([bytes], asBytes: true)), (true, Self.requestEvents(pieces, asBytes: true))] {
                XCTAssertEqual(got.events, expected.events, "\(cut ? "in pieces" : "whole"): \(input)")
                XCTAssertEqual(got.facts, expected.facts, input)
                for (kept, values) in zip(got.heads, expected.heads) {
                    XCTAssertNil(values.raw)
                    if let raw = kept.raw {
                        XCTAssertEqual(kept.head.headers.count, 0, input)
                        XCTAssertEqual(raw.first(name: "host"), values.head.headers.first(name: "host"), input)
                        whole += 1
                    } else {
                        split += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(whole, 600, "too few request heads kept as bytes to say much: \(whole)")
        XCTAssertGreaterThan(split, 200, "too few split request heads read into values: \(split)")
    }

    /// The cache reads a request's fields from its lines (`FieldLines`) when nothing has read them
    /// into `HTTPHeaders`: for random requests made of the fields that change a cache's answer
    /// (directives, conditions, ranges, credentials, the fields responses vary on, in any case,
    /// repeated, padded, not UTF-8), every answer the policy gives from the lines is the one it
    /// gives from the fields read into values.
    func testCachePolicyReadsTheLinesAsItReadsTheFields() throws {
        var random = SeededGenerator(seed: 0xCAC4E_F1E1D5)
        let t: Int64 = 1_700_000_000
        let date = CachePolicy.formatHTTPDate(t)
        let lines = [
            "Cache-Control: max-age=0", "cache-control: no-cache", "Cache-Control: max-stale", "Cache-Control: min-fresh=30, only-if-cached",
            "CACHE-CONTROL: no-store", "Cache-Control: stale-if-error=60", "Pragma: no-cache", "pragma: x",
            "If-None-Match: \"v1\"", "If-None-Match: W/\"v2\", \"v1\"", "if-none-match: *", "If-Match: \"v1\"", "If-Match: \"zz\"",
            "If-Modified-Since: \(date)", "If-Unmodified-Since: \(CachePolicy.formatHTTPDate(t - 10))", "If-Modified-Since: nonsense",
            "Range: bytes=0-9", "range: bytes=-5", "Range: bytes=100-", "Range: items=1-2", "If-Range: \"v1\"", "If-Range: \(date)",
            "Authorization: Bearer x", "authorization: Basic eA==",
            "Accept-Encoding: gzip,  deflate", "accept-encoding: br", "Accept-Encoding:gzip , deflate", "Accept-Language: en  ,fr",
            "Cookie: a=1; b=2", "X-Tight:v", "X-Pad: v \t", "Host: example.com", "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0)",
        ]
        let stored = HTTPHeaders([("ETag", "\"v1\""), ("Last-Modified", CachePolicy.formatHTTPDate(t - 60)), ("Date", date)])
        let responses = [
            HTTPHeaders([("Cache-Control", "max-age=60"), ("Vary", "Accept-Encoding")]),
            HTTPHeaders([("Cache-Control", "public, max-age=60"), ("Vary", "accept-encoding, Accept-Language, Cookie, X-Raw")]),
            HTTPHeaders([("Expires", CachePolicy.formatHTTPDate(t + 60)), ("Date", date)]),
        ]
        let varyNames = ["accept-encoding", "Accept-Language", "cookie", "x-raw", "x-tight", "x-pad", "x-absent"]
        var compared = 0
        for _ in 0..<400 {
            var bytes = Array("GET /a HTTP/1.1\r\n".utf8)
            for _ in 0..<Int.random(in: 0...8, using: &random) {
                if Int.random(in: 0..<12, using: &random) == 0 {
                    bytes += Array("X-Raw: a".utf8) + [0xC3, 0x28, 0xFF] + Array("\r\n".utf8)  // not UTF-8
                } else {
                    bytes += Array((lines.randomElement(using: &random)! + "\r\n").utf8)
                }
            }
            bytes += Array("\r\n".utf8)
            let input = String(decoding: bytes, as: UTF8.self).debugDescription
            let parsed = Self.requestEvents([bytes], asBytes: true).heads
            guard let raw = parsed.first?.raw else { continue }  // a head the parser refuses has nothing to compare
            let headers = raw.headers()
            XCTAssertEqual(CachePolicy.RequestTraits(raw), CachePolicy.RequestTraits(headers), input)
            XCTAssertEqual(RequestFieldLines.lines(raw).traits, RequestFieldLines.headers(headers).traits, input)
            XCTAssertEqual(CachePolicy.RequestDirectives(raw), CachePolicy.RequestDirectives(headers), input)
            for name in varyNames {
                XCTAssertEqual(CachePolicy.normalizedValue(of: name, in: raw), CachePolicy.normalizedValue(of: name, in: headers), "\(name): \(input)")
            }
            let values = CachePolicy.varyValues(fields: varyNames.map { $0.lowercased() }, request: headers)
            XCTAssertEqual(CachePolicy.varyValues(fields: varyNames.map { $0.lowercased() }, request: raw), values, input)
            XCTAssertTrue(CachePolicy.matches(values, request: raw), input)
            for method in [HTTPMethod.GET, .HEAD, .PUT] {
                XCTAssertEqual(
                    CachePolicy.evaluateConditional(method: method, request: raw, stored: stored),
                    CachePolicy.evaluateConditional(method: method, request: headers, stored: stored), input)
            }
            XCTAssertEqual(
                CachePolicy.range(method: .GET, request: raw, length: 50, stored: stored),
                CachePolicy.range(method: .GET, request: headers, length: 50, stored: stored), input)
            for response in responses {
                XCTAssertEqual(
                    CachePolicy.isStorable(method: .GET, requestHeaders: raw, status: 200, responseHeaders: response),
                    CachePolicy.isStorable(method: .GET, requestHeaders: headers, status: 200, responseHeaders: response), input)
                let entry = CachedResponse(status: 200, headers: response, requestTime: t - 30, responseTime: t - 30)
                for now in [t, t + 100] {
                    XCTAssertEqual(CachePolicy.use(entry, request: raw, now: now), CachePolicy.use(entry, request: headers, now: now), input)
                    XCTAssertEqual(
                        CachePolicy.mayServeStaleOnError(entry, request: raw, now: now),
                        CachePolicy.mayServeStaleOnError(entry, request: headers, now: now), input)
                }
            }
            compared += 1
        }
        XCTAssertGreaterThan(compared, 350)
    }

    /// A request's field lines written upstream as they came, the hop-by-hop and `X-Forwarded-*`
    /// ones left out by the facts' bits and ours after them, are what `upstreamFields` and the
    /// writer make of its fields: for the fuzz test's seeded requests that the proxy would pass on
    /// that way (`ProxyHandler.passesLinesOn`), with and without `X-Forwarded-*` and `Via`.
    func testRequestLinesGoUpstreamAsTheFieldsWould() throws {
        var random = SeededGenerator(seed: 0x4EAD_FAC7)
        let route = ProxyConfiguration.Route(host: .any, pathPrefix: "/", action: .proxy(upstream: "u"), location: .init(file: "t", line: 1, column: 1))
        var compared = 0
        var withLines = 0
        for index in 0..<HardeningFuzzTests.inputs {
            // Behind each, a request with a value that is not UTF-8 and a forged X-Forwarded-For.
            let bytes = HardeningFuzzTests.input(index, &random) + Array("GET / HTTP/1.1\r\nX-Raw: a".utf8) + [0xFF]
                + Array("b\r\nx-forwarded-for: 1\r\nX-Pad: v \r\nX-Tight:v\r\n\r\n".utf8)
            // The heads read into values, and read as the proxy's codec reads them (fields as bytes).
            let values = Self.requestEvents([bytes], asBytes: false).heads
            let kept = Self.requestEvents([bytes], asBytes: true).heads
            XCTAssertEqual(values.count, kept.count)
            for (valuesHead, keptHead) in zip(values, kept) {
                let head = valuesHead.head
                let facts = keptHead.facts
                guard let lines = keptHead.raw else {
                    XCTFail("a head read in one call has its lines")
                    continue
                }
                withLines += 1
                XCTAssertEqual(Self.pairs(lines.headers()), Self.pairs(head.headers))
                for (forwarded, via) in [(true, true), (false, false), (true, false)] {
                    var forwarding = ProxyConfiguration.Forwarding()
                    forwarding.xForwarded = forwarded
                    forwarding.via = via
                    guard ProxyHandler.passesLinesOn(facts, method: head.method, route: route, forwarding: forwarding) else { continue }
                    let xf = forwarded ? HeaderRewriting.Forwarded(client: "10.0.0.1", proto: "http", host: head.headers.first(name: "host")) : nil
                    let hop = via ? "1.1 tern" : nil
                    var byFields = head
                    byFields.headers = HeaderRewriting.upstreamFields(head.headers, forwarded: xf, via: hop)
                    // As the proxy sends it: the client's lines, then ours written out once, and no
                    // fields of the head's own.
                    var byLines = head
                    byLines.headers = HTTPHeaders()
                    let added = HTTP1RawFields(writing: HeaderRewriting.upstreamFields(HTTPHeaders(), forwarded: xf, via: hop))
                    let omit = facts.hopByHop | (forwarded ? facts.xForwarded : 0)
                    let framing = RequestExecution.framing(head.method, version: head.version, body: .none)
                    var one = HTTP1Writer()
                    one.requestHead(byFields, framing: framing)
                    var two = HTTP1Writer()
                    two.requestHead(byLines, framing: framing, lines: (lines, omit), added: added)
                    let (fieldBytes, lineBytes) = (try Self.written(&one), try Self.written(&two))
                    let input = String(decoding: bytes, as: UTF8.self).debugDescription
                    if String(validating: lineBytes, as: UTF8.self) == nil {
                        // Bytes that are not UTF-8 went on as they came, where the fields repaired them.
                        XCTAssertEqual(String(decoding: lineBytes, as: UTF8.self), String(decoding: fieldBytes, as: UTF8.self), input)
                    } else {
                        XCTAssertEqual(lineBytes, fieldBytes, input)
                    }
                    compared += 1
                }
            }
        }
        XCTAssertGreaterThan(withLines, 500)
        XCTAssertGreaterThan(compared, 800, "too few requests passed on as lines to say much: \(compared)")
    }

    private struct Parsed {
        var head: HTTPResponseHead
        var facts: HTTP1HeadFacts
        var raw: HTTP1RawFields?
    }

    private struct ParsedRequest {
        var head: HTTPRequestHead
        var facts: HTTP1HeadFacts
        var raw: HTTP1RawFields?
    }

    /// What a request parser hands on for `pieces` fed one at a time, as the proxy's codec feeds it:
    /// each event as text (a head with its fields, read from its bytes when it has them), the
    /// error that stopped it, the heads and their facts.
    private static func requestEvents(
        _ pieces: [[UInt8]], asBytes: Bool
    ) -> (events: [String], heads: [ParsedRequest], facts: [HTTP1HeadFacts]) {
        var parser = HTTP1Parser(kind: .request, maxHeadBytes: 64 * 1024, maxFieldCount: 200)
        parser.fieldsAsBytes = asBytes
        var input = HTTP1Input(parser)
        var events: [String] = []
        var heads: [ParsedRequest] = []
        var body: [UInt8] = []
        pieces: for piece in pieces {
            input.append(ByteBuffer(bytes: piece))
            while !input.parser.hasStopped {
                do {
                    guard let event = try input.next() else { break }
                    switch event {
                    case .requestHead(let head):
                        let raw = input.parser.takeRawFields()
                        XCTAssertNil(input.parser.takeRawFields(), "taken: the parser holds the receive buffer no longer")
                        let fields = raw.map { $0.headers() } ?? head.headers
                        events.append("head \(head.method) \(head.uri) \(head.version) \(Self.pairs(fields))")
                        heads.append(ParsedRequest(head: head, facts: input.parser.lastHead, raw: raw))
                    case .body(let part):
                        body += part.readableBytesView  // however the pieces cut it
                    case .end(let trailers):
                        events.append("body \(body) end \(trailers.map(Self.pairs) ?? [])")
                        body = []
                    case .responseHead:
                        events.append("a response head")
                    }
                } catch {
                    events.append("error \(error)")
                    break pieces
                }
            }
        }
        return (events, heads, heads.map(\.facts))
    }

    /// The response heads in `pieces`, fed one piece at a time as the client codec feeds them.
    /// Stops at the first error (the random fields give some heads two lengths, or a length and a
    /// coding): the heads before it are compared.
    private static func parse(_ pieces: [[UInt8]], asBytes: Bool) -> [Parsed] {
        var parser = HTTP1Parser(kind: .response, maxHeadBytes: 64 * 1024, maxFieldCount: 200)
        parser.fieldsAsBytes = asBytes
        var input = HTTP1Input(parser)
        var heads: [Parsed] = []
        for piece in pieces {
            input.append(ByteBuffer(bytes: piece))
            while !input.parser.hasStopped, let event = try? input.next() {
                if case .responseHead(let head) = event {
                    let raw = input.parser.takeRawFields()
                    // Taken once: the parser keeps no hold on the receive buffer after.
                    XCTAssertNil(input.parser.takeRawFields())
                    heads.append(Parsed(head: head, facts: input.parser.lastHead, raw: raw))
                }
            }
        }
        return heads
    }

    /// `bytes` cut at random into pieces of 1 to 40 bytes.
    private static func cut(_ bytes: [UInt8], _ random: inout SeededGenerator) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let size = min(rest.count, Int.random(in: 1...40, using: &random))
            pieces.append(Array(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return pieces
    }

    private static func pairs(_ headers: HTTPHeaders) -> [String] {
        headers.map { "\($0.name): \($0.value)" }
    }

    /// The head written on from its bytes is the head written on from its fields, for the hop-by-hop
    /// fields left out (and other masks), each framing, and fields added after.
    private func checkWritten(_ got: Parsed, _ want: Parsed, input: String, random: inout SeededGenerator) throws {
        let framings: [HTTP1Writer.Framing] = [.keep(chunked: false), .keep(chunked: true), .dropCoding, .dropLengthAndCoding, .chunked]
        let masks: [UInt64] = [0, want.facts.hopByHop, UInt64.random(in: 0...UInt64.max, using: &random)]
        for framing in framings {
            for omit in masks {
                let adding: (String, String)? = Bool.random(using: &random) ? ("Via", "1.1 tern") : nil
                let second: (String, String)? = Bool.random(using: &random) ? ("Connection", "close") : nil
                var fromValues = HTTP1Writer()
                fromValues.responseHead(want.head, framing: framing, suppressBody: false, omitting: omit, adding: adding, second)
                var fromBytes = HTTP1Writer()
                if let raw = got.raw {
                    fromBytes.responseHead(got.head, fields: raw, framing: framing, suppressBody: false, omitting: omit, adding: adding, second)
                } else {
                    fromBytes.responseHead(got.head, framing: framing, suppressBody: false, omitting: omit, adding: adding, second)
                }
                let (values, bytes) = (try Self.written(&fromValues), try Self.written(&fromBytes))
                if !bytes.contains(0xFF) {
                    XCTAssertEqual(bytes, values, "\(framing) \(omit) \(input)")
                } else {
                    // Bytes that are not UTF-8 went on as they came, where the values repaired them;
                    // read as UTF-8, the two heads are the same.
                    XCTAssertNotNil(got.raw, input)
                    XCTAssertEqual(String(decoding: bytes, as: UTF8.self), String(decoding: values, as: UTF8.self), "\(framing) \(omit) \(input)")
                    XCTAssertNotNil(bytes.firstRange(of: [0xC3, 0x28, 0xFF, 0x80]), input)
                }
            }
        }
    }

    private static func written(_ writer: inout HTTP1Writer) throws -> [UInt8] {
        let channel = EmbeddedChannel(handler: OutboundBox())
        defer { _ = try? channel.finish() }
        let context = try channel.pipeline.syncOperations.context(handlerType: OutboundBox.self)
        writer.writeGathered(context: context, promise: nil)
        context.flush()
        let out = try XCTUnwrap(try channel.readOutbound(as: ByteBuffer.self))
        return Array(out.readableBytesView)
    }
}

/// A handler that only gives tests a context to write from.
private final class OutboundBox: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
}
