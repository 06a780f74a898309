import NIOCore
import NIOHTTP1

/// Tern's HTTP/1.1 parser (RFC 9112), for requests (the proxy's listeners, `HTTP1ServerCodec`)
/// and responses (the agent's connections, `HTTP1ClientCodec`), in place of NIO's llhttp-based
/// decoder. It reads a head line by line straight out of the receive buffer, builds the head
/// without generic or callback machinery, and hands body bytes on as slices of that buffer. No
/// IO: the codecs feed it; tests feed it bytes directly.
///
/// Strict where two parsers could disagree (request smuggling): CRLF line ends only (a bare LF
/// or CR is an error), no whitespace before a field's colon, no obs-fold, no control characters
/// or non-ASCII bytes in the request target, no control characters in field values, only the
/// methods llhttp knows, HTTP/1.0 and HTTP/1.1 only, chunk sizes of at most 15 hex digits
/// followed only by a chunk extension, and exactly CRLF after each chunk's data. A head whose
/// body framing cannot be known (two lengths, a length and a transfer coding, a transfer coding
/// other than `chunked` alone, a transfer coding in HTTP/1.0) is handed on and parsing stops:
/// `RequestRules` refuses that head and the connection closes. Parsing also stops after an upgrade request
/// (`Connection: upgrade` with `Upgrade`, or CONNECT), as llhttp does: what follows is no longer HTTP.
///
/// Responses: no body after HEAD, 1xx, 204 and 304; `chunked` when it is the final transfer
/// coding, else the body runs to the connection's end (`finish()`); a length and a transfer
/// coding together, or a malformed length, are errors. Interim responses (1xx but 101) are
/// skipped, as NIO's decoder does by default. Parsing stops after a 101 and after a 2xx to CONNECT.
package struct HTTP1Parser {
    package enum Kind: Sendable {
        case request
        case response
    }

    package enum Event: Equatable {
        case requestHead(HTTPRequestHead)
        case responseHead(HTTPResponseHead)
        case body(ByteBuffer)
        case end(HTTPHeaders?)
    }

    private enum State: Equatable {
        case startLine
        case fields
        case fixedBody(remaining: Int)
        /// A response body that ends with the connection.
        case untilClose
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        /// The message ends here: `end` is due.
        case ending
        /// Nothing more is parsed (after an upgrade request, a head of unknowable framing, or an
        /// error); what arrives is dropped.
        case stopped
    }

    /// What the fields said about the body, gathered while they are read.
    private struct Framing {
        var contentLength: Int?
        var lengthInvalid = false
        var lengthFields = 0
        var transferCodings = 0
        var chunkedOnly = true
        var lastCodingChunked = false
    }

    /// What the fields of the head now being read said (`HTTP1HeadFacts`).
    private var facts = HTTP1HeadFacts()
    /// The facts of the last head handed on (`requestHead` or `responseHead`), for the codec to
    /// pass on beside it.
    package private(set) var lastHead = HTTP1HeadFacts()

    package let kind: Kind
    /// The start line and fields together may not exceed this (`headerOverflow`, 431).
    package let maxHeadBytes: Int
    /// More fields than this is `headerOverflow` (431).
    package let maxFieldCount: Int
    /// Responses: the request now being answered was HEAD (no body) or CONNECT (a 2xx ends HTTP).
    /// The client codec keeps these up to date as requests go out and responses come in.
    package var answeringHEAD = false
    package var answeringCONNECT = false
    /// The fields of the heads that begin from now on are handed on as bytes (`HTTP1RawFields`,
    /// taken with `takeRawFields()`), the head's `HTTPHeaders` left empty: for the agent's
    /// responses (the proxy's exchanges) and the proxy's requests. A head that does not arrive in
    /// one piece is read into `HTTPHeaders` all the same, and then has no raw fields.
    package var fieldsAsBytes = false
    /// The head now being read keeps its fields as bytes: `rawCount` of them so far, from
    /// `rawStart` in the buffer of this call to `next` (a head that needs another call after some
    /// of its fields were read has them made into values before the call returns).
    private var headAsBytes = false
    private var rawStart = 0
    private var rawCount = 0
    /// The fields of the last head handed on, when they were kept as bytes.
    private var lastRawFields: HTTP1RawFields?
    /// The last response head handed on, kept to be filled in again: when whoever took it has let
    /// it go by the next response (as the proxy and the agent's connection do), its storage is
    /// reused (`HTTPResponseHead`'s setters copy it only when it is shared) rather than a new one
    /// allocated and the old one freed, once per response.
    private var spareResponseHead: HTTPResponseHead?
    /// The same for requests (the proxy lets its client's head go as its exchange ends).
    private var spareRequestHead: HTTPRequestHead?

    private var state = State.startLine {
        didSet { self.hasStopped = self.state == .stopped }
    }

    /// The body bytes still to come of a message framed by `Content-Length` whose body is under
    /// way; nil at any other point (a head, a chunked body, a body that runs to the close).
    package var contentBytesRemaining: Int? {
        if case .fixedBody(let remaining) = self.state { return remaining }
        return nil
    }
    /// Bytes at the front of the buffer already searched for a line end without finding one.
    private var scanned = 0
    /// Bytes of the head (or trailer section) so far.
    private var headBytes = 0
    private var version = HTTPVersion.http1_1
    private var method = HTTPMethod.GET
    private var uri = ""
    private var status = HTTPResponseStatus.ok
    /// The head's fields as they come: made into `HTTPHeaders` once, at the head's end (its
    /// initializer takes the array as it is; `add` checks and scans each field again).
    private var fields: [(String, String)] = []
    private var trailers: [(String, String)] = []
    private var framing = Framing()
    /// The message under way was an upgrade request: parsing stops after it.
    private var stopsAfterMessage = false
    /// How far the request line now being read is known to be well formed, byte by byte.
    private var requestLineCheck = RequestLineCheck()
    /// Every field line of the head read so far is in the writer's form (`HTTP1RawFields.isWritten`).
    private var linesWritten = true

    package init(kind: Kind, maxHeadBytes: Int, maxFieldCount: Int) {
        self.kind = kind
        self.maxHeadBytes = maxHeadBytes
        self.maxFieldCount = maxFieldCount
    }

    /// Whether the parser has stopped for good; what is left is not HTTP (or not to be read).
    /// Stored, not computed from `state`: the proxy's codec asks from another module, where calling
    /// a getter on this struct (held in a class) copied the whole parser, retains and all, each time.
    package private(set) var hasStopped = false

    /// The connection's end: the end of a body that runs to it; nil if no message was under way;
    /// `invalidEOFState` if one was cut short.
    package mutating func finish() throws(HTTPParserError) -> Event? {
        switch self.state {
        case .untilClose:
            self.state = .stopped
            return .end(nil)
        case .stopped:
            return nil
        case .startLine where self.scanned == 0 && self.headBytes == 0:
            return nil
        default:
            try self.fail(.invalidEOFState)
        }
    }

    /// The end of a message that is whole and needs no more bytes to end; nil otherwise.
    package mutating func takeEnd() -> Event? {
        self.state == .ending ? self.endMessage() : nil
    }

    private mutating func endMessage() -> Event {
        let trailers = self.trailers.isEmpty ? nil : HTTPHeaders(self.trailers)
        self.trailers = []
        self.headBytes = 0
        self.state = self.stopsAfterMessage ? .stopped : .startLine
        return .end(trailers)
    }

    /// The next event from the front of `buffer`, consuming what it used; nil when more bytes are
    /// needed (what is left in `buffer` must be given again, with what follows appended).
    package mutating func next(_ buffer: inout ByteBuffer) throws(HTTPParserError) -> Event? {
        // No field of the head under way read yet (see `keepFieldsAsValues`).
        if self.headAsBytes { self.rawStart = buffer.readerIndex }
        while true {
            switch self.state {
            case .startLine:
                let checked = self.kind == .request
                guard let length = try self.nextLine(buffer, limit: self.maxHeadBytes - self.headBytes, requestLine: checked) else {
                    return nil
                }
                self.headBytes += length + 2
                if length == 0 {
                    // RFC 9112 §2.2: empty lines before a request line are ignored (counted against
                    // the head's limit, so that they cannot go on for ever).
                    buffer.moveReaderIndex(forwardBy: 2)
                    if self.headBytes > self.maxHeadBytes { try self.fail(.headerOverflow) }
                    continue
                }
                switch self.kind {
                case .request: try self.parseRequestLine(buffer, length: length)
                case .response: try self.parseStatusLine(buffer, length: length)
                }
                buffer.moveReaderIndex(forwardBy: length + 2)
                self.fields = []
                self.headAsBytes = self.fieldsAsBytes
                if self.lastRawFields != nil { self.lastRawFields = nil }  // taken already, as a rule
                if self.headAsBytes {
                    self.rawStart = buffer.readerIndex
                    self.rawCount = 0
                } else {
                    self.fields.reserveCapacity(16)
                }
                self.framing = Framing()
                self.facts = HTTP1HeadFacts()
                self.linesWritten = true
                self.state = .fields
            case .fields:
                guard try self.fieldLines(&buffer) else {
                    if self.headAsBytes { self.keepFieldsAsValues(&buffer) }
                    return nil
                }
                // At the blank line that ends the head.
                if self.headAsBytes {
                    let end = buffer.readerIndex
                    buffer.moveReaderIndex(to: self.rawStart)
                    self.lastRawFields = HTTP1RawFields(buffer.readSlice(length: end - self.rawStart)!, isWritten: self.linesWritten)
                }
                buffer.moveReaderIndex(forwardBy: 2)
                switch self.kind {
                case .request: return self.requestHeadComplete()
                case .response:
                    if let event = try self.responseHeadComplete() { return event }
                    continue  // an interim response, skipped
                }
            case .fixedBody(let remaining):
                let count = min(remaining, buffer.readableBytes)
                if count == 0 { return nil }
                let slice = buffer.readSlice(length: count)!
                self.state = remaining == count ? .ending : .fixedBody(remaining: remaining - count)
                return .body(slice)
            case .untilClose:
                guard buffer.readableBytes > 0 else { return nil }
                return .body(buffer.readSlice(length: buffer.readableBytes)!)
            case .chunkSize:
                guard let length = try self.nextLine(buffer, limit: Self.maxChunkLine) else { return nil }
                let size = try self.parseChunkSize(buffer, length: length)
                buffer.moveReaderIndex(forwardBy: length + 2)
                if size == 0 {
                    self.headBytes = 0
                    self.state = .trailers
                } else {
                    self.state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let count = min(remaining, buffer.readableBytes)
                if count == 0 { return nil }
                let slice = buffer.readSlice(length: count)!
                self.state = remaining == count ? .chunkDataEnd : .chunkData(remaining: remaining - count)
                return .body(slice)
            case .chunkDataEnd:
                guard buffer.readableBytes >= 2 else {
                    if buffer.readableBytes == 1, buffer.readableBytesView.first != UInt8(ascii: "\r") { try self.fail(.invalidChunkSize) }
                    return nil
                }
                guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { try self.fail(.invalidChunkSize) }
                self.state = .chunkSize
            case .trailers:
                guard let length = try self.nextLine(buffer, limit: self.maxHeadBytes - self.headBytes) else { return nil }
                self.headBytes += length + 2
                if length == 0 {
                    buffer.moveReaderIndex(forwardBy: 2)
                    self.state = .ending
                    continue
                }
                if self.trailers.count >= self.maxFieldCount { try self.fail(.headerOverflow) }
                self.trailers.append(try self.parseTrailerField(buffer, length: length))
                buffer.moveReaderIndex(forwardBy: length + 2)
            case .ending:
                return self.endMessage()
            case .stopped:
                buffer.moveReaderIndex(to: buffer.writerIndex)
                return nil
            }
        }
    }

    /// A chunk-size line (size and extension) longer than this is refused.
    package static let maxChunkLine = 4096

    // MARK: Lines

    /// What the search for a line's end found.
    private enum LineScan {
        case end(Int)
        case more(scanned: Int)
        case invalid
        case tooLong
    }

    /// The length of the line at the front of `buffer` (without its CRLF) once it is all there;
    /// nil while it is not. The search fails as soon as it meets what no line may hold, whole or
    /// not: a control character (tab aside), a CR not followed by LF, a LF without a CR before it,
    /// or more than `limit` bytes. So a TLS ClientHello or other binary sent to an HTTP port is
    /// refused at once, not left waiting for a line end that never comes. A line it returns holds
    /// no control character but tab: the parsers of its parts need not look again.
    private mutating func nextLine(_ buffer: ByteBuffer, limit: Int, requestLine: Bool = false) throws(HTTPParserError) -> Int? {
        let start = self.scanned
        var check = self.requestLineCheck
        let scan: LineScan = buffer.withUnsafeReadableBytes { raw in
            let bytes = raw.assumingMemoryBound(to: UInt8.self)
            if requestLine && start == 0, let end = Self.wholeRequestLine(bytes, limit: limit) { return .end(end) }
            return Self.scanLine(bytes, from: start, limit: limit, requestLine: requestLine, check: &check)
        }
        self.requestLineCheck = check
        switch scan {
        case .end(let end):
            self.scanned = 0
            self.requestLineCheck = RequestLineCheck()
            if end - 1 > limit { try self.fail(.headerOverflow) }
            return end - 1
        case .more(let scanned):
            self.scanned = scanned
            return nil
        case .invalid:
            try self.fail(.invalidCharactersUsed)
        case .tooLong:
            try self.fail(.headerOverflow)
        }
    }

    /// Where the LF ending the request line at the front of `bytes` is, when that line is all
    /// there and well formed (`method SP target SP HTTP/1.x CRLF`, the method a token of at most 24
    /// bytes, the target visible ASCII, checked eight bytes at a time) and no longer than `limit`;
    /// else nil, and the byte-by-byte search (`scanLine` with `RequestLineCheck`) reads the line
    /// from its start and says what is wrong, or that more is to come. It accepts only lines that
    /// search accepts, so the two cannot disagree.
    @inline(__always)
    private static func wholeRequestLine(_ bytes: UnsafeBufferPointer<UInt8>, limit: Int) -> Int? {
        let count = min(bytes.count, max(limit, 0) + 2)  // the line and its CRLF
        var index = 0
        while index < count, index <= 24, Self.isTokenByte(bytes[index]) { index += 1 }
        guard index > 0, index <= 24, index < count, bytes[index] == 0x20 else { return nil }
        index += 1
        let target = index
        while index + 8 <= count {
            let outside = Self.outsideVisible(UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self))
            if outside != 0 {
                index += Self.firstFlagged(outside)
                break
            }
            index += 8
        }
        while index < count, bytes[index] > 0x20, bytes[index] < 0x7F { index += 1 }
        // The target, then " HTTP/1.0" or " HTTP/1.1" and CRLF: eleven bytes.
        guard index > target, index + 11 <= count else { return nil }
        let version = UnsafeRawPointer(bytes.baseAddress! + index)
        let minor = version.load(fromByteOffset: 8, as: UInt8.self)
        guard UInt64(littleEndian: version.loadUnaligned(as: UInt64.self)) == 0x2E31_2F50_5454_4820,  // " HTTP/1."
            minor == UInt8(ascii: "0") || minor == UInt8(ascii: "1"),
            UInt16(littleEndian: version.loadUnaligned(fromByteOffset: 9, as: UInt16.self)) == 0x0A0D
        else { return nil }
        return index + 10
    }

    /// A word's bytes outside visible ASCII (below 0x21 or from 0x7F on), flagged by their high
    /// bits: zero exactly when there is none, and the lowest flag marks the first such byte exactly
    /// (as in `controlBytes`, a flag above it may be false).
    @inline(__always)
    static func outsideVisible(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let below = (word &- ones &* 0x21) & ~word & highs
        let fromDelete = ((word & ~highs) &+ ones | word) & highs
        return below | fromDelete
    }

    /// `nextLine`'s search, in `bytes` (which start with the line) from `start`: where the LF
    /// ending the line is, or how far the search got.
    @inline(__always)
    private static func scanLine(
        _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int, requestLine: Bool, check: inout RequestLineCheck
    ) -> LineScan {
        let searchEnd = min(bytes.count, max(limit, 0) + 2)  // the line and its CRLF
        // Nothing at or past `searchEnd` is looked at. Where the limit ends the search (not the
        // bytes so far), a CR in its last place cannot end a line short enough: it is checked like
        // any byte, not kept for the byte after it, so that a line is judged the same whether it
        // came whole or in pieces.
        let limitEnds = searchEnd == max(limit, 0) + 2
        var index = start
        while index < searchEnd {
            // Field lines: eight bytes at a time while none is a control character (CR and LF
            // included); at a word that holds one, straight to it (its offset is exact), for
            // the byte steps below to take.
            if !requestLine, index + 8 <= searchEnd {
                let word = UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self)
                let controls = Self.controlBytes(word)
                if controls == 0 {
                    index += 8
                    continue
                }
                let offset = Self.firstFlagged(controls)
                index += offset
                // The usual end, CR LF inside the word: read from the word, not loaded again
                // byte by byte (the LF is before `searchEnd`, as the word is).
                if offset < 7, UInt16(truncatingIfNeeded: UInt64(littleEndian: word) >> UInt64(offset &* 8)) == 0x0A0D {
                    return .end(index + 1)
                }
            }
            let byte = bytes[index]
            // A request line is checked as it comes, as llhttp did: a line that goes wrong and
            // then stops is refused at its first wrong byte, not when `header-timeout` runs out.
            if requestLine && byte != 0x0A && !(index + 1 == searchEnd && !limitEnds && byte == 0x0D) && !check.accepts(byte) {
                return .invalid
            }
            if byte < 0x20 || byte == 0x7F {
                if byte == 0x0A {
                    return index > 0 && bytes[index - 1] == 0x0D ? .end(index) : .invalid
                }
                if byte == 0x0D {
                    if index + 1 < searchEnd && bytes[index + 1] != 0x0A { return .invalid }
                } else if byte != 0x09 {
                    return .invalid
                }
            }
            index += 1
        }
        if searchEnd < bytes.count || index >= max(limit, 0) + 2 { return .tooLong }
        // A CR at the very end is looked at again with the byte after it.
        return .more(scanned: index > start && bytes[index - 1] == 0x0D ? index - 1 : index)
    }

    /// A word's bytes below 0x20 or equal to 0x7F, flagged by their high bits (the classic "has a
    /// byte less than n" and "has a zero byte" tests): zero exactly when there is none, and the
    /// lowest flag marks the first such byte exactly (a flag above it may be false, from a borrow).
    @inline(__always)
    static func controlBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let belowSpace = (word &- ones &* 0x20) & ~word & highs
        let delete = word ^ (ones &* 0x7F)
        let isDelete = (delete &- ones) & ~delete & highs
        return belowSpace | isDelete
    }

    /// The offset in memory order of the first byte `controlBytes` flagged (the word was loaded
    /// from memory, so its first byte is its lowest on this little-endian machine).
    @inline(__always)
    static func firstFlagged(_ flags: UInt64) -> Int {
        UInt64(littleEndian: flags).trailingZeroBitCount >> 3
    }

    private mutating func fail(_ error: HTTPParserError) throws(HTTPParserError) -> Never {
        self.state = .stopped
        self.lastRawFields = nil
        throw error
    }

    // MARK: The head

    private mutating func parseRequestLine(_ buffer: ByteBuffer, length: Int) throws(HTTPParserError) {
        let parsed: (HTTPMethod, String, HTTPVersion)? = buffer.withUnsafeReadableBytes { raw in
            let all = raw.assumingMemoryBound(to: UInt8.self)
            let line = UnsafeBufferPointer(rebasing: all[0..<length])
            // method SP request-target SP HTTP-version, whose grammar `RequestLineCheck` has
            // checked byte by byte; here the parts are taken apart and the method looked up.
            guard let firstSpace = line.firstIndex(of: 0x20), length - firstSpace > 10 else { return nil }
            let versionStart = length - 8
            let target = UnsafeBufferPointer(rebasing: line[(firstSpace + 1)..<(versionStart - 1)])
            guard let version = Self.version(UnsafeBufferPointer(rebasing: line[versionStart..<length])),
                let method = Self.method(UnsafeBufferPointer(rebasing: line[0..<firstSpace]))
            else { return nil }
            return (method, String(decoding: target, as: UTF8.self), version)
        }
        guard let (method, uri, version) = parsed else { try self.fail(.invalidConstant) }
        self.method = method
        self.uri = uri
        self.version = version
    }

    /// `HTTP-version SP 3DIGIT SP [ reason-phrase ]`; a missing SP after the code is tolerated.
    private mutating func parseStatusLine(_ buffer: ByteBuffer, length: Int) throws(HTTPParserError) {
        let parsed: (HTTPVersion, HTTPResponseStatus)? = buffer.withUnsafeReadableBytes { raw in
            let line = UnsafeBufferPointer(rebasing: raw.assumingMemoryBound(to: UInt8.self)[0..<length])
            guard length >= 12, let version = Self.version(UnsafeBufferPointer(rebasing: line[0..<8])), line[8] == 0x20 else { return nil }
            var code = 0
            for index in 9..<12 {
                guard line[index] >= 0x30, line[index] <= 0x39 else { return nil }
                code = code * 10 + Int(line[index] - 0x30)
            }
            guard code >= 100 else { return nil }
            if length > 12 { guard line[12] == 0x20 else { return nil } }
            // NIO's known codes keep their own phrase whatever came: only another code's is read.
            let known = HTTPResponseStatus(statusCode: code)
            guard case .custom = known, length > 13 else { return (version, known) }
            let reason = String(decoding: UnsafeBufferPointer(rebasing: line[13..<length]), as: UTF8.self)
            return (version, HTTPResponseStatus(statusCode: code, reasonPhrase: reason))
        }
        guard let (version, status) = parsed else { try self.fail(.invalidStatus) }
        self.version = version
        self.status = status
    }

    /// `HTTP/1.1` or `HTTP/1.0`.
    private static func version(_ bytes: UnsafeBufferPointer<UInt8>) -> HTTPVersion? {
        guard bytes.count == 8, bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
            bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"), bytes[5] == UInt8(ascii: "1"), bytes[6] == UInt8(ascii: "."),
            bytes[7] == UInt8(ascii: "0") || bytes[7] == UInt8(ascii: "1")
        else { return nil }
        return HTTPVersion(major: 1, minor: Int(bytes[7] - UInt8(ascii: "0")))
    }

    /// The methods NIO names (llhttp's list): an unknown one is refused, as llhttp refuses it,
    /// rather than passed to upstreams whose parsers would refuse it.
    private static func method(_ bytes: UnsafeBufferPointer<UInt8>) -> HTTPMethod? {
        func equals(_ name: StaticString) -> Bool {
            guard name.utf8CodeUnitCount == bytes.count else { return false }
            for index in 0..<bytes.count where name.utf8Start[index] != bytes[index] { return false }
            return true
        }
        switch bytes.count {
        case 3:
            if equals("GET") { return .GET }
            if equals("PUT") { return .PUT }
        case 4:
            if equals("HEAD") { return .HEAD }
            if equals("POST") { return .POST }
        case 5:
            if equals("PATCH") { return .PATCH }
        case 6:
            if equals("DELETE") { return .DELETE }
        case 7:
            if equals("OPTIONS") { return .OPTIONS }
        default:
            break
        }
        let method = HTTPMethod(rawValue: String(decoding: bytes, as: UTF8.self))
        if case .RAW = method { return nil }
        return method
    }

    /// One trailer field line: `name ":" OWS value OWS`. (A head's field lines: `fieldLines`.)
    private mutating func parseTrailerField(_ buffer: ByteBuffer, length: Int) throws(HTTPParserError) -> (String, String) {
        let field: (String, String)? = buffer.withUnsafeReadableBytes { raw in
            guard let (name, value) = Self.splitField(raw, length: length) else { return nil }
            return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        }
        guard let field else { try self.fail(.invalidHeaderToken) }
        return field
    }

    /// What `fieldLines` met.
    private enum FieldLines {
        case blankLine
        case more
        case failed(HTTPParserError)
    }

    /// Reads every whole field line at the front of `buffer` (each found as `nextLine` finds a line,
    /// split by `splitField`, its name and value noted in `facts`, kept as bytes or made `String`s),
    /// in one pass over the bytes: one access to the buffer and one move of its reader index, not
    /// three of each a line. True at the blank line that ends the head (the
    /// reader index at its CR, its two bytes counted); false when the line under way is not all
    /// there (the reader index at its start, the bytes searched so far in `scanned`).
    private mutating func fieldLines(_ buffer: inout ByteBuffer) throws(HTTPParserError) -> Bool {
        var consumed = 0
        let outcome: FieldLines = buffer.withUnsafeReadableBytes { raw in
            let all = raw.assumingMemoryBound(to: UInt8.self)
            var unused = RequestLineCheck()
            while true {
                let limit = self.maxHeadBytes - self.headBytes
                let rest = UnsafeBufferPointer(rebasing: all[consumed...])
                switch Self.scanLine(rest, from: self.scanned, limit: limit, requestLine: false, check: &unused) {
                case .end(let end):
                    self.scanned = 0
                    let length = end - 1
                    if length > limit { return .failed(.headerOverflow) }
                    self.headBytes += length + 2
                    if length == 0 { return .blankLine }
                    if self.fields.count + self.rawCount >= self.maxFieldCount { return .failed(.headerOverflow) }
                    guard let (name, value) = Self.splitField(UnsafeRawBufferPointer(rest), length: length) else {
                        return .failed(.invalidHeaderToken)
                    }
                    // `name: value`, one space and nothing after the value, as the writer writes it:
                    // with that space, the trimmed value can be that long only if it starts after it
                    // and ends the line.
                    if rest[name.count + 1] != 0x20 || value.count != length - name.count - 2 { self.linesWritten = false }
                    let known = self.facts.note(index: self.headAsBytes ? self.rawCount : self.fields.count, name: name, value: value)
                    if known == .contentLength || known == .transferEncoding { self.noteFraming(known!, value: value) }
                    if self.headAsBytes {
                        self.rawCount += 1
                    } else {
                        self.fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
                    }
                    consumed += length + 2
                case .more(let scanned):
                    self.scanned = scanned
                    return .more
                case .invalid:
                    return .failed(.invalidCharactersUsed)
                case .tooLong:
                    return .failed(.headerOverflow)
                }
            }
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        switch outcome {
        case .blankLine: return true
        case .more: return false
        case .failed(let error): try self.fail(error)
        }
    }

    /// The name and the value without its surrounding whitespace, of the field line of `length`
    /// bytes at the front of `raw`; nil if the name is not a token (or missing).
    private static func splitField(
        _ raw: UnsafeRawBufferPointer, length: Int
    ) -> (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>)? {
        let line = UnsafeBufferPointer(rebasing: raw.assumingMemoryBound(to: UInt8.self)[0..<length])
        // The name's bytes are checked on the way to the colon (one pass, not a search and then a
        // check): the first byte that is not a token's must be the colon, after at least one.
        // Eight at a time while they are letters, digits or `-` (`ASCII.nameBytes`), inside the
        // line; from the first other byte (the colon, in nearly every name) one at a time.
        var colon = 0
        let highs: UInt64 = 0x8080_8080_8080_8080
        while colon &+ 8 <= length {
            let named = ASCII.nameBytes(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: colon, as: UInt64.self)))
            if named == highs {
                colon &+= 8
            } else {
                colon &+= (named ^ highs).trailingZeroBitCount &>> 3
                break
            }
        }
        while colon < length, Self.isTokenByte(line[colon]) { colon += 1 }
        guard colon > 0, colon < length, line[colon] == UInt8(ascii: ":") else { return nil }
        let name = UnsafeBufferPointer(rebasing: line[0..<colon])
        var start = colon + 1
        var end = length
        while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        while end > start, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
        return (name, UnsafeBufferPointer(rebasing: line[start..<end]))  // no controls: `nextLine`
    }

    /// The head being read cannot be handed on with its fields as bytes (it needs another call to
    /// `next`, with a buffer that will not hold the lines read so far): those lines become values
    /// now, and so do the rest of the head's.
    private mutating func keepFieldsAsValues(_ buffer: inout ByteBuffer) {
        guard self.rawCount > 0 else { return }  // nothing read yet: the next call starts afresh
        self.headAsBytes = false
        let end = buffer.readerIndex
        buffer.moveReaderIndex(to: self.rawStart)
        self.fields = HTTP1RawFields(buffer.readSlice(length: end - self.rawStart)!).pairs(reservingCapacity: self.rawCount)
        self.rawCount = 0
    }

    /// The fields of the head just handed on, when they were kept as bytes (its `HTTPHeaders` are
    /// then empty); nil otherwise, and once taken (they hold the receive buffer, which the parser
    /// lets go of so that the next read can reuse it). Kept apart from the facts, which stay plain
    /// values, copied without a retain.
    package mutating func takeRawFields() -> HTTP1RawFields? {
        defer { self.lastRawFields = nil }
        return self.lastRawFields
    }

    /// Reads a `Content-Length` or `Transfer-Encoding` field's value into `framing`.
    private mutating func noteFraming(_ field: HTTP1Fields.KnownName, value: UnsafeBufferPointer<UInt8>) {
        if field == .contentLength {
            self.framing.lengthFields += 1
            if HTTP1Fields.readContentLength(value, into: &self.framing.contentLength) != .valid { self.framing.lengthInvalid = true }
        } else {
            HTTP1Fields.forEachElement(value) { coding in
                self.framing.transferCodings += 1
                self.framing.lastCodingChunked = ASCII.equals(coding, "chunked")
                if !self.framing.lastCodingChunked { self.framing.chunkedOnly = false }
            }
        }
    }

    /// A response head is whole: hand it on (nil for an interim one, which is skipped), and set up
    /// for its body.
    private mutating func responseHeadComplete() throws(HTTPParserError) -> Event? {
        let code = self.status.code
        self.headBytes = 0
        let asBytes = self.headAsBytes
        self.headAsBytes = false
        self.rawCount = 0
        if code < 200 && code != 101 {
            self.fields = []
            self.lastRawFields = nil
            self.state = .startLine
            return nil
        }
        let headers = asBytes ? HTTPHeaders() : HTTPHeaders(self.fields)
        if !asBytes { self.lastRawFields = nil }
        self.fields = []
        self.lastHead = self.facts
        let framing = self.framing
        if code == 101 || (self.answeringCONNECT && code < 300) {
            self.stopsAfterMessage = true
            self.state = .ending
        } else if self.answeringHEAD || code == 204 || code == 304 {
            self.state = .ending
        } else if framing.transferCodings > 0 {
            if framing.lengthFields > 0 { try self.fail(.unexpectedContentLength) }
            self.state = framing.lastCodingChunked ? .chunkSize : .untilClose
        } else if framing.lengthInvalid {
            try self.fail(.invalidContentLength)
        } else if let length = framing.contentLength {
            self.state = length > 0 ? .fixedBody(remaining: length) : .ending
        } else {
            self.state = .untilClose
        }
        let head: HTTPResponseHead
        if var spare = self.spareResponseHead.take() {
            // Each setter of the head's storage checks that it is not shared: only those that change.
            if spare.version != self.version { spare.version = self.version }
            if spare.status != self.status { spare.status = self.status }
            spare.headers = headers
            head = spare
        } else {
            head = HTTPResponseHead(version: self.version, status: self.status, headers: headers)
        }
        self.spareResponseHead = head
        return .responseHead(head)
    }

    /// A request head is whole: hand it on, and set up for its body.
    private mutating func requestHeadComplete() -> Event {
        let headers = self.headAsBytes ? HTTPHeaders() : HTTPHeaders(self.fields)
        self.headAsBytes = false
        self.rawCount = 0
        let head: HTTPRequestHead
        if var spare = self.spareRequestHead.take() {
            // Each setter of the head's storage checks that it is not shared: only those that change.
            if spare.method != self.method { spare.method = self.method }
            if spare.uri != self.uri { spare.uri = self.uri }
            if spare.version != self.version { spare.version = self.version }
            spare.headers = headers
            head = spare
        } else {
            head = HTTPRequestHead(version: self.version, method: self.method, uri: self.uri, headers: headers)
        }
        self.spareRequestHead = head
        self.fields = []
        self.uri = ""
        self.headBytes = 0
        let framing = self.framing
        self.facts.contentLength = framing.lengthInvalid ? nil : framing.contentLength
        self.facts.plainFraming = !framing.lengthInvalid
            && (framing.transferCodings == 0
                || (framing.transferCodings == 1 && framing.lastCodingChunked && framing.lengthFields == 0 && self.version.minor == 1))
        self.lastHead = self.facts
        if self.method.isCONNECT {
            self.stopsAfterMessage = true
            self.state = .ending
        } else if framing.transferCodings > 0 {
            if framing.lengthFields > 0 || !framing.chunkedOnly || framing.transferCodings > 1 || self.version.minor == 0 {
                self.state = .stopped  // RequestRules refuses this head (400 or 501)
            } else {
                self.state = .chunkSize
            }
        } else if framing.lengthInvalid {
            self.state = .stopped  // RequestRules refuses this head (400)
        } else if let length = framing.contentLength, length > 0 {
            self.state = .fixedBody(remaining: length)
        } else {
            self.state = .ending
        }
        if self.facts.connectionUpgrade && self.facts.hasUpgrade { self.stopsAfterMessage = true }
        return .requestHead(head)
    }

    // MARK: Chunks

    /// `1*HEXDIG [ BWS ";" chunk-ext ]`: at most 15 digits; the extension may hold anything but
    /// control characters (tab aside), which `nextLine` has refused already.
    private mutating func parseChunkSize(_ buffer: ByteBuffer, length: Int) throws(HTTPParserError) -> Int {
        let size: Int? = buffer.withUnsafeReadableBytes { raw in
            let all = raw.assumingMemoryBound(to: UInt8.self)
            let line = UnsafeBufferPointer(rebasing: all[0..<length])
            var size: UInt64 = 0
            var index = 0
            while index < length, let digit = Self.hexValue(line[index]) {
                if index == 15 { return nil }
                size = size << 4 | UInt64(digit)
                index += 1
            }
            guard index > 0, size <= UInt64(Int.max) else { return nil }
            var rest = index
            while rest < length, line[rest] == 0x20 || line[rest] == 0x09 { rest += 1 }
            if rest < length {
                guard line[rest] == UInt8(ascii: ";") else { return nil }  // no controls after it: `nextLine`
            } else if rest != index {
                return nil  // whitespace without an extension
            }
            return Int(size)
        }
        guard let size else { try self.fail(.invalidChunkSize) }
        return size
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    /// The request line's grammar (`method SP target SP HTTP/1.x CR`), one byte at a time, so a
    /// line arriving in pieces is checked once per byte however many reads it takes.
    private struct RequestLineCheck {
        private var part = 0  // 0 method, 1 target's first byte, 2 target, 3 version
        private var count = 0

        mutating func accepts(_ byte: UInt8) -> Bool {
            switch self.part {
            case 0:
                if byte == 0x0D && self.count == 0 { return true }  // an empty line before the request line
                if byte == 0x20 {
                    self.part = 1
                    return self.count > 0
                }
                self.count += 1
                return self.count <= 24 && HTTP1Parser.isTokenByte(byte)
            case 1:
                self.part = 2
                return byte > 0x20 && byte < 0x7F
            case 2:
                if byte == 0x20 {
                    self.part = 3
                    self.count = 0
                    return true
                }
                return byte > 0x20 && byte < 0x7F
            default:
                let version: StaticString = "HTTP/1."
                defer { self.count += 1 }
                switch self.count {
                case 0..<7: return byte == version.utf8Start[self.count]
                case 7: return byte == UInt8(ascii: "0") || byte == UInt8(ascii: "1")
                case 8: return byte == 0x0D
                default: return false
                }
            }
        }
    }

    /// RFC 9110 §5.6.2 tchar, from two bit masks (constants: no lazily initialized table to
    /// check on every byte).
    @inline(__always)
    package static func isTokenByte(_ byte: UInt8) -> Bool {
        if byte < 64 { return (0x03FF_6CFA_0000_0000 as UInt64) >> UInt64(byte) & 1 != 0 }
        if byte < 128 { return (0x57FF_FFFF_C7FF_FFFE as UInt64) >> UInt64(byte - 64) & 1 != 0 }
        return false
    }
}
