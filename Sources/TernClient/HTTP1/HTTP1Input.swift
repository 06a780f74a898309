import NIOCore
import NIOHTTP1

/// The bytes a codec has read and not yet parsed, with the parser that takes events from them.
/// A read appends; each `next()` takes one event off the front. Events are handed on by the
/// codec between calls, so bytes that arrive meanwhile (a handler behind reacting to an event)
/// queue up behind the rest, in order.
package struct HTTP1Input {
    package var parser: HTTP1Parser
    private var unparsed: ByteBuffer?

    package init(_ parser: HTTP1Parser) {
        self.parser = parser
    }

    /// `buffer` is taken `consuming`: kept by a move, not a copy (a retain) that the caller then
    /// releases.
    package mutating func append(_ buffer: consuming ByteBuffer) {
        if self.unparsed == nil {
            self.unparsed = buffer
        } else {
            self.unparsed!.writeBuffer(&buffer)
        }
    }

    /// The next event, or nil until more bytes come. Not to be called once the parser has stopped.
    package mutating func next() throws(HTTPParserError) -> HTTP1Parser.Event? {
        // A message that ends with its head (or its body's last byte) ends without more bytes.
        // Moved out (parsed in place, not copied on write), not copied and then cleared.
        guard var buffer = self.unparsed.take() else { return self.parser.takeEnd() }
        let event = try self.parser.next(&buffer)
        // After a protocol switch the rest stays here for `takeRest()`.
        if buffer.readableBytes > 0 { self.unparsed = buffer }
        return event
    }

    /// Takes what is left unparsed (the bytes after a protocol switch).
    package mutating func takeRest() -> ByteBuffer? {
        defer { self.unparsed = nil }
        guard let rest = self.unparsed, rest.readableBytes > 0 else { return nil }
        return rest
    }
}

/// The requests whose responses have not begun, as far as a codec must know them: whether each
/// was HEAD or CONNECT. Bits for the first 64 (no allocation); an array behind them for a client
/// that pipelines further ahead.
package struct PendingMethods {
    private var heads: UInt64 = 0
    private var connects: UInt64 = 0
    private var count = 0
    private var overflow: [HTTPMethod] = []

    package init() {}

    package var isEmpty: Bool { self.count == 0 }
    package var firstIsHEAD: Bool { self.heads & 1 != 0 }
    package var firstIsCONNECT: Bool { self.connects & 1 != 0 }

    package mutating func append(_ method: HTTPMethod) {
        guard self.count < 64 else {
            self.overflow.append(method)
            return
        }
        let bit: UInt64 = 1 << UInt64(self.count)
        if method.isHEAD { self.heads |= bit }
        if method.isCONNECT { self.connects |= bit }
        self.count += 1
    }

    /// Removes the oldest request's method and says what it was; nil when none is pending. One
    /// mutating call for a codec in another module: there, each getter call copied the whole
    /// value (a retain and a release of `overflow`) to pass it.
    package mutating func takeFirst() -> (isHEAD: Bool, isCONNECT: Bool)? {
        guard self.count > 0 else { return nil }
        let first = (isHEAD: self.firstIsHEAD, isCONNECT: self.firstIsCONNECT)
        self.removeFirst()
        return first
    }

    package mutating func removeFirst() {
        guard self.count > 0 else { return }
        self.heads >>= 1
        self.connects >>= 1
        self.count -= 1
        if !self.overflow.isEmpty { self.append(self.overflow.removeFirst()) }
    }
}
