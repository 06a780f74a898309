import NIOCore
import NIOHTTP1

/// Serializes one side's outgoing HTTP/1.1 messages for `HTTP1ServerCodec` (responses) and
/// `HTTP1ClientCodec` (requests), with the framing rules of NIO's encoders: the framing fields are
/// corrected for the message (see `requestFraming` and `responseFraming`), and a body without a
/// length is sent chunked in HTTP/1.1.
///
/// A head, the small body parts after it and the end are gathered into one buffer, reused from
/// message to message, and written as one at the next flush (or when a large part or a promise
/// needs writing): one write and, in the steady state, no allocation for a typical message,
/// where NIO's encoders write head, body and end apart and allocate a buffer for each head.
package struct HTTP1Writer {
    /// Body parts up to this size are copied into the gathered buffer rather than written apart.
    package static let gatherLimit = 8192

    /// What happens to a head's `Content-Length` and `Transfer-Encoding` fields.
    package enum Framing: Equatable {
        /// Written as they are; `chunked` says whether the body is chunk-framed by the caller's fields.
        case keep(chunked: Bool)
        /// The body is framed by `Content-Length`: `Transfer-Encoding` goes.
        case dropCoding
        /// No body: both go.
        case dropLengthAndCoding
        /// Chunked: any `Transfer-Encoding` is replaced by `chunked`.
        case chunked
    }

    private var out = ByteBuffer()
    private var gathering = false
    private var chunked = false
    /// The message under way carries no body bytes (a response to HEAD or CONNECT).
    private var suppressesBody = false

    package init() {}

    // MARK: Framing (as NIO's encoders decide it)

    /// NIO's `HTTPRequestEncoder`: TRACE has no body; POST, PUT and PATCH without a length are
    /// chunked in HTTP/1.1; other methods are chunked only if the caller said so.
    package static func requestFraming(_ head: HTTPRequestHead) -> Framing {
        switch head.method {
        case .TRACE:
            return .dropLengthAndCoding
        case .POST, .PUT, .PATCH:
            if Self.hasField(head.headers, "content-length") { return .dropCoding }
            return head.version.major == 1 && head.version.minor >= 1 ? .chunked : .keep(chunked: false)
        default:
            if Self.hasField(head.headers, "content-length") { return .dropCoding }
            let chunked = head.version.major == 1 && head.version.minor >= 1 && head.headers.first(name: "transfer-encoding") == "chunked"
            return .keep(chunked: chunked)
        }
    }

    /// NIO's `HTTPResponseEncoder`: no body for 1xx, 204, 304 or an answer to CONNECT; otherwise
    /// a body without a length is chunked in HTTP/1.1.
    /// `hasContentLength`: whether the head has that field, when already known (`HTTP1HeadFacts`).
    package static func responseFraming(_ head: HTTPResponseHead, answeringCONNECT: Bool, hasContentLength: Bool? = nil) -> Framing {
        let code = head.status.code
        if answeringCONNECT || code < 200 || code == 204 || code == 304 { return .dropLengthAndCoding }
        if hasContentLength ?? Self.hasField(head.headers, "content-length") { return .dropCoding }
        return head.version.major == 1 && head.version.minor >= 1 ? .chunked : .keep(chunked: false)
    }

    private static func hasField(_ fields: HTTPHeaders, _ lowercaseName: StaticString) -> Bool {
        let count = lowercaseName.utf8CodeUnitCount
        for (name, _) in fields where name.utf8.count == count && ASCII.equals(name, lowercaseName) { return true }
        return false
    }

    // MARK: Writing

    /// Gathers a request head. With `lines`, those field lines as they came (`HTTP1RawFields`, but
    /// those whose bit is set in `omitting`) go before the head's own fields; with `added`, those
    /// lines (in the writer's form, no framing field: `HTTP1RawFields(writing:)`) go whole after them.
    package mutating func requestHead(
        _ head: HTTPRequestHead, framing: Framing, lines: (HTTP1RawFields, omitting: UInt64)? = nil, added: HTTP1RawFields? = nil
    ) {
        self.begin(framing: framing, suppressBody: false)
        let method = head.method.rawValue
        let uri = head.uri
        if head.version == .http1_1 {
            // The request line in one write (each `ByteBuffer` write checks uniqueness and room).
            self.out.writeWithUnsafeMutableBytes(minimumWritableBytes: method.utf8.count + uri.utf8.count + 12) { buffer in
                let start = buffer.baseAddress!
                var next = Self.put(method, at: start)
                next.storeBytes(of: UInt8(ascii: " "), as: UInt8.self)
                next = Self.put(uri, at: next + 1)
                return Self.put(" HTTP/1.1\r\n" as StaticString, at: next) - start
            }
        } else {
            self.out.writeString(method)
            self.out.writeInteger(UInt8(ascii: " "))
            self.out.writeString(uri)
            self.out.writeInteger(UInt8(ascii: " "))
            Self.writeVersion(head.version, to: &self.out)
            self.out.writeStaticString("\r\n")
        }
        if let (raw, omit) = lines { self.lines(raw, framing: framing, omitting: omit, finishing: false) }
        if let added { self.out.writeImmutableBuffer(added.bytes) }
        self.fields(head.headers, framing: framing)
    }

    /// Gathers a response head; `suppressBody` for an answer to HEAD or CONNECT. A proxy passing
    /// a head on can have it rewritten on the way, without copying its fields first: written as
    /// `version`, without field i when bit i of `omit` is set (`HTTP1HeadFacts.hopByHop`), with
    /// `first` and `second` after the rest.
    package mutating func responseHead(
        _ head: HTTPResponseHead, framing: Framing, suppressBody: Bool, version: HTTPVersion? = nil,
        omitting omit: UInt64 = 0, adding first: (String, String)? = nil, _ second: (String, String)? = nil
    ) {
        self.begin(framing: framing, suppressBody: suppressBody)
        self.statusLine(head, version: version)
        self.fields(head.headers, framing: framing, omitting: omit, adding: first, second)
    }

    /// `responseHead` for a head whose fields came as bytes (`HTTP1RawFields`; the head's own
    /// `HTTPHeaders` are not read): the same bytes out, but that a value's bytes go as they came
    /// where the `String`s would have replaced those that are not UTF-8. One copy per field, by
    /// pointer, and no `String` on the way.
    package mutating func responseHead(
        _ head: HTTPResponseHead, fields raw: HTTP1RawFields, framing: Framing, suppressBody: Bool, version: HTTPVersion? = nil,
        omitting omit: UInt64 = 0, adding first: (String, String)? = nil, _ second: (String, String)? = nil
    ) {
        self.begin(framing: framing, suppressBody: suppressBody)
        self.statusLine(head, version: version)
        self.lines(raw, framing: framing, omitting: omit, finishing: true, adding: first, second)
    }

    /// `responseHead` for a head whose fields are kept written out (a stored response's): those
    /// lines, then the head's own fields. `raw` must be in the form the writer writes (`name: value`
    /// CRLF, values trimmed) and hold no `Transfer-Encoding`: then it is copied whole, unless the
    /// framing drops its `Content-Length`.
    package mutating func responseHead(_ head: HTTPResponseHead, after raw: HTTP1RawFields, framing: Framing, suppressBody: Bool) {
        self.begin(framing: framing, suppressBody: suppressBody)
        self.statusLine(head, version: nil)
        if framing == .dropLengthAndCoding {
            self.lines(raw, framing: framing, omitting: 0, finishing: false)
        } else {
            self.out.writeImmutableBuffer(raw.bytes)
        }
        self.fields(head.headers, framing: framing)
    }

    /// The field lines of `raw` (but those whose bit is set in `omit`, and the framing fields
    /// `framing` drops), each written `name: value` as the `String`s would have been, into one
    /// stretch reserved at once; `finishing`: then `first`, `second`, the framing's own field and
    /// the blank line.
    private mutating func lines(
        _ raw: HTTP1RawFields, framing: Framing, omitting omit: UInt64, finishing: Bool, adding first: (String, String)? = nil,
        _ second: (String, String)? = nil
    ) {
        let dropCoding = framing == .dropCoding || framing == .chunked || framing == .dropLengthAndCoding
        let dropLength = framing == .dropLengthAndCoding
        let chunkedLine: StaticString = "transfer-encoding: chunked\r\n"
        var tail = 0
        if finishing {
            tail = 2 + (framing == .chunked ? chunkedLine.utf8CodeUnitCount : 0)
            if let first { tail += first.0.utf8.count + first.1.utf8.count + 4 }
            if let second { tail += second.0.utf8.count + second.1.utf8.count + 4 }
        }
        // Each line comes out at most one byte longer than it came (`a:b` is written `a: b`), and
        // a line is at least four bytes.
        let size = raw.bytes.readableBytes + raw.bytes.readableBytes / 4 + tail
        self.out.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { buffer in
            let start = buffer.baseAddress!
            var next = start
            if raw.isWritten {
                next = Self.copyLines(raw, to: next, omitting: omit, dropCoding: dropCoding, dropLength: dropLength)
            } else {
                var bit: UInt64 = 1
                raw.forEach { name, value in
                    let omitted = omit & bit != 0
                    bit = bit &<< 1
                    if omitted { return }
                    if dropCoding && name.count == 17 && ASCII.equals(name, "transfer-encoding") { return }
                    if dropLength && name.count == 14 && ASCII.equals(name, "content-length") { return }
                    next.copyMemory(from: name.baseAddress!, byteCount: name.count)
                    next += name.count
                    next.storeBytes(of: UInt8(ascii: ":"), as: UInt8.self)
                    (next + 1).storeBytes(of: UInt8(ascii: " "), as: UInt8.self)
                    next += 2
                    if let base = value.baseAddress { next.copyMemory(from: base, byteCount: value.count) }
                    next += value.count
                    next.storeBytes(of: UInt8(ascii: "\r"), as: UInt8.self)
                    (next + 1).storeBytes(of: UInt8(ascii: "\n"), as: UInt8.self)
                    next += 2
                }
            }
            if finishing {
                if let first { next = Self.putField(first.0, first.1, at: next) }
                if let second { next = Self.putField(second.0, second.1, at: next) }
                if framing == .chunked { next = Self.put(chunkedLine, at: next) }
                next = Self.put("\r\n", at: next)
            }
            precondition(next - start <= buffer.count, "a head was written past the room reserved for it")
            return next - start
        }
    }

    /// `lines` for lines already in the writer's form (`HTTP1RawFields.isWritten`): runs of whole
    /// lines copied as they are, only those left out (by `omit`, or the framing fields dropped)
    /// skipped. Nothing left out: one copy. Otherwise each line's end is found eight bytes at a
    /// time, where splitting each line into its name and value and writing those again had cost
    /// about ten nanoseconds a line.
    private static func copyLines(
        _ raw: HTTP1RawFields, to next: UnsafeMutableRawPointer, omitting omit: UInt64, dropCoding: Bool, dropLength: Bool
    ) -> UnsafeMutableRawPointer {
        raw.bytes.withUnsafeReadableBytes { source in
            guard let base = source.baseAddress else { return next }
            let count = source.count
            guard omit != 0 || dropCoding || dropLength else {
                next.copyMemory(from: base, byteCount: count)
                return next + count
            }
            var next = next
            var runStart = 0
            var lineStart = 0
            var bit: UInt64 = 1
            while lineStart < count {
                let lineEnd = HTTP1RawFields.lineEnd(source, from: lineStart)
                let line = UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self) + lineStart, count: lineEnd - lineStart)
                var skip = omit & bit != 0
                bit = bit &<< 1
                // A written line's name ends at its colon: the name is the line's first bytes.
                if !skip && dropCoding && line.count > 18 && line[17] == UInt8(ascii: ":") {
                    skip = ASCII.equals(UnsafeBufferPointer(rebasing: line[..<17]), "transfer-encoding")
                }
                if !skip && dropLength && line.count > 15 && line[14] == UInt8(ascii: ":") {
                    skip = ASCII.equals(UnsafeBufferPointer(rebasing: line[..<14]), "content-length")
                }
                if skip {
                    next.copyMemory(from: base + runStart, byteCount: lineStart - runStart)
                    next += lineStart - runStart
                    runStart = lineEnd
                }
                lineStart = lineEnd
            }
            next.copyMemory(from: base + runStart, byteCount: count - runStart)
            return next + count - runStart
        }
    }

    private mutating func statusLine(_ head: HTTPResponseHead, version: HTTPVersion?) {
        let version = version ?? head.version
        if head.status == .ok && version == .http1_1 {
            self.out.writeStaticString("HTTP/1.1 200 OK\r\n")  // the common line in one write
            return
        }
        Self.writeVersion(version, to: &self.out)
        if head.status == .ok {
            self.out.writeStaticString(" 200 OK\r\n")
        } else {
            let code = head.status.code
            self.out.writeInteger(UInt8(ascii: " "))
            if code >= 100 && code <= 999 {
                self.out.writeInteger(UInt8(truncatingIfNeeded: 0x30 + code / 100))
                self.out.writeInteger(UInt8(truncatingIfNeeded: 0x30 + code / 10 % 10))
                self.out.writeInteger(UInt8(truncatingIfNeeded: 0x30 + code % 10))
            } else {
                self.out.writeString(String(code))
            }
            self.out.writeInteger(UInt8(ascii: " "))
            self.out.writeString(head.status.reasonPhrase)
            self.out.writeStaticString("\r\n")
        }
    }

    private mutating func begin(framing: Framing, suppressBody: Bool) {
        switch framing {
        case .chunked, .keep(chunked: true): self.chunked = !suppressBody
        case .keep(chunked: false), .dropCoding, .dropLengthAndCoding: self.chunked = false
        }
        self.suppressesBody = suppressBody
        self.startGathering()
    }

    /// The fields (but those whose bit is set in `omit`, and the framing fields `framing` drops),
    /// `first` and `second`, the framing's own field and the blank line.
    ///
    /// One pass over `fields`: each pass copies every field out of `HTTPHeaders`, a retain and a
    /// release for each `String` stored out of line. Fields are copied by pointer into a stretch of
    /// the buffer reserved at once: each `ByteBuffer.write` checks uniqueness and capacity and
    /// slices its storage, four times a field, which was half of what writing a head cost. A field
    /// that does not fit in what is left of the stretch ends it, and the next stretch fits it.
    private mutating func fields(
        _ fields: HTTPHeaders, framing: Framing, omitting omit: UInt64 = 0,
        adding first: (String, String)? = nil, _ second: (String, String)? = nil
    ) {
        let dropCoding = framing == .dropCoding || framing == .chunked || framing == .dropLengthAndCoding
        let dropLength = framing == .dropLengthAndCoding
        let chunkedLine: StaticString = "transfer-encoding: chunked\r\n"
        var iterator = fields.makeIterator()
        var carried: (name: String, value: String)?
        var bit: UInt64 = 1
        var stretch = 1024
        var finished = false
        while !finished {
            self.out.writeWithUnsafeMutableBytes(minimumWritableBytes: stretch) { buffer in
                let start = buffer.baseAddress!
                let end = start + buffer.count
                var next = start
                while true {
                    let field: (name: String, value: String)
                    if let pending = carried {
                        field = pending
                        carried = nil
                    } else {
                        guard let candidate = iterator.next() else { break }
                        let omitted = omit & bit != 0
                        bit = bit &<< 1
                        if omitted { continue }
                        let count = candidate.name.utf8.count
                        if dropCoding && count == 17 && ASCII.equals(candidate.name, "transfer-encoding") { continue }
                        if dropLength && count == 14 && ASCII.equals(candidate.name, "content-length") { continue }
                        field = candidate
                    }
                    let size = field.name.utf8.count + field.value.utf8.count + 4
                    if end - next < size {
                        carried = field
                        stretch = size
                        return next - start
                    }
                    next = Self.putField(field.name, field.value, at: next)
                }
                var tail = 2 + (framing == .chunked ? chunkedLine.utf8CodeUnitCount : 0)
                if let first { tail += first.0.utf8.count + first.1.utf8.count + 4 }
                if let second { tail += second.0.utf8.count + second.1.utf8.count + 4 }
                if end - next < tail {
                    stretch = tail
                    return next - start
                }
                if let first { next = Self.putField(first.0, first.1, at: next) }
                if let second { next = Self.putField(second.0, second.1, at: next) }
                if framing == .chunked { next = Self.put(chunkedLine, at: next) }
                next = Self.put("\r\n", at: next)
                finished = true
                return next - start
            }
        }
    }

    private static func putField(_ name: String, _ value: String, at next: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var next = Self.put(name, at: next)
        next.storeBytes(of: UInt8(ascii: ":"), as: UInt8.self)
        (next + 1).storeBytes(of: UInt8(ascii: " "), as: UInt8.self)
        next = Self.put(value, at: next + 2)
        next.storeBytes(of: UInt8(ascii: "\r"), as: UInt8.self)
        (next + 1).storeBytes(of: UInt8(ascii: "\n"), as: UInt8.self)
        return next + 2
    }

    /// Copies a string's UTF-8 to `next` (which has room for it); returns the byte after it.
    private static func put(_ string: String, at next: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        let copied = string.utf8.withContiguousStorageIfAvailable { bytes in
            if let base = bytes.baseAddress { next.copyMemory(from: base, byteCount: bytes.count) }
            return bytes.count
        }
        if let copied { return next + copied }
        var position = next
        for byte in string.utf8 {
            position.storeBytes(of: byte, as: UInt8.self)
            position += 1
        }
        return position
    }

    private static func put(_ string: StaticString, at next: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        next.copyMemory(from: string.utf8Start, byteCount: string.utf8CodeUnitCount)
        return next + string.utf8CodeUnitCount
    }

    private static func writeVersion(_ version: HTTPVersion, to out: inout ByteBuffer) {
        if version.major == 1 && version.minor == 1 {
            out.writeStaticString("HTTP/1.1")
        } else if version.major == 1 && version.minor == 0 {
            out.writeStaticString("HTTP/1.0")
        } else {
            out.writeString("HTTP/\(version.major).\(version.minor)")
        }
    }

    /// A body part: gathered when small, else written (after what is gathered). A promise is
    /// completed in order with the message's other writes.
    package mutating func body(_ part: IOData, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        if self.suppressesBody {
            promise?.fail(NIOHTTPResponseEncoderError.responseBodyNotAllowed)
            return
        }
        let count = part.readableBytes
        if count == 0 {
            // An empty part must not end a chunked body; its promise still completes in order.
            if let promise { self.writeOut(NIOAny(part), context: context, promise: promise) }
            return
        }
        if case .byteBuffer(var buffer) = part, count <= Self.gatherLimit, promise == nil {
            self.startGathering()
            if self.chunked { Self.writeChunkSize(count, to: &self.out) }
            self.out.writeBuffer(&buffer)
            if self.chunked { self.out.writeStaticString("\r\n") }
            return
        }
        if self.chunked {
            self.startGathering()
            Self.writeChunkSize(count, to: &self.out)
        }
        self.writeOut(NIOAny(part), context: context, promise: promise)
        if self.chunked {
            self.startGathering()
            self.out.writeStaticString("\r\n")
        }
    }

    /// The message's end (the last chunk and trailers when chunked); everything gathered is
    /// written with `promise`.
    package mutating func end(_ trailers: HTTPHeaders?, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        if self.chunked {
            self.startGathering()
            if let trailers {
                self.out.writeStaticString("0\r\n")
                self.fields(trailers, framing: .keep(chunked: false))
            } else {
                self.out.writeStaticString("0\r\n\r\n")
            }
        }
        self.chunked = false
        self.suppressesBody = false
        self.writeGathered(context: context, promise: promise)
    }

    /// Writes what is gathered (before a flush, at a message's end, or when a promise asks for
    /// the head). With nothing gathered, a promise still completes in order with earlier writes.
    package mutating func writeGathered(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard self.gathering else {
            if let promise { context.write(NIOAny(ByteBuffer()), promise: promise) }
            return
        }
        self.gathering = false
        context.write(NIOAny(self.out), promise: promise)
    }

    private mutating func writeOut(_ data: NIOAny, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        if self.gathering { self.writeGathered(context: context, promise: nil) }
        context.write(data, promise: promise)
    }

    private mutating func startGathering() {
        guard !self.gathering else { return }
        self.gathering = true
        if self.out.capacity > 65536 {
            self.out = ByteBuffer()  // a large gathered message is not kept for the connection's life
        } else {
            self.out.clear()  // new storage only while an earlier write still holds the old
        }
    }

    private static func writeChunkSize(_ count: Int, to out: inout ByteBuffer) {
        var shift = (Int.bitWidth - count.leadingZeroBitCount + 3) / 4 * 4
        if shift == 0 { shift = 4 }
        while shift > 0 {
            shift -= 4
            let digit = UInt8(truncatingIfNeeded: (count >> shift) & 0xF)
            out.writeInteger(digit < 10 ? 0x30 + digit : 0x61 + digit - 10)
        }
        out.writeStaticString("\r\n")
    }
}
