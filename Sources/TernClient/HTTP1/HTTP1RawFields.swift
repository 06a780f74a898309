import NIOCore
import NIOHTTP1

/// A head's field lines as they came off the wire, left as bytes: a slice of the receive buffer
/// from the first field line to the end of the last one's CRLF, which the parser has already
/// checked (`name ":" OWS value OWS CRLF`, token names, no control characters but tab, CRLF line
/// ends only).
///
/// The parser hands these on instead of `HTTPHeaders` when asked to (`HTTP1Parser.fieldsAsBytes`):
/// for the proxy's requests, which a plain GET writes upstream as they came
/// (`Agent.execute(…lines:…)`; the proxy keeps them until its exchange is done), and for the
/// responses of the proxy's exchanges (`Agent.execute(…fieldsAsBytes: true…)`): a head passed
/// through unchanged is written from them (`HTTP1Writer.responseHead(_:fields:…)`) with no
/// `String` made, copied or freed. That
/// was two allocations, the fields array, a retain and release per out-of-line `String` on each
/// pass and UTF-8 validation per proxied response. Whoever needs the fields as values asks
/// `headers()`, which reads them as the parser would have (bytes that are not UTF-8 repaired
/// alike). A response's are not kept past the call that hands them over: they hold the receive
/// buffer's storage, which the next read would otherwise have to copy or replace.
package struct HTTP1RawFields: Equatable, Sendable {
    package let bytes: ByteBuffer
    /// Every line is already in the form the writer writes (`name: value` CRLF: one space after the
    /// colon, the value without whitespace around it), so that the writer may copy whole lines
    /// (`HTTP1Writer.lines`). The parser says so when it is true of every line of the head.
    package let isWritten: Bool

    package init(_ bytes: ByteBuffer, isWritten: Bool = false) {
        self.bytes = bytes
        self.isWritten = isWritten
    }

    /// The same lines: `isWritten` only says something about them.
    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.bytes == rhs.bytes }

    /// Calls `body` with each field's name and trimmed value, in order.
    package func forEach(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        try self.scan { name, value in
            try body(name, value)
            return true
        }
    }

    /// The value of the first field named `name` (given in lower case), as the parser would have
    /// made it; nil if there is none.
    package func first(name: StaticString) -> String? {
        var found: String?
        self.scan { fieldName, value in
            guard ASCII.equals(fieldName, name) else { return true }
            found = String(decoding: value, as: UTF8.self)
            return false
        }
        return found
    }

    /// Calls `body` with the value, as the parser would have made it, of each field whose name
    /// equals `name` (lowercase) ignoring ASCII case, in order, while it returns true. Only those
    /// values become `String`s.
    package func forEachValue(named name: String, _ body: (String) -> Bool) {
        var name = name
        name.withUTF8 { wanted in
            self.scan { fieldName, value in
                guard ASCII.equals(fieldName, wanted) else { return true }
                return body(String(decoding: value, as: UTF8.self))
            }
        }
    }

    /// Calls `body` with each field's name and trimmed value, in order, while it returns true.
    private func scan(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) throws -> Bool) rethrows {
        try self.bytes.withUnsafeReadableBytes { raw in
            let all = raw.assumingMemoryBound(to: UInt8.self)
            var lineStart = 0
            while lineStart < all.count {
                // The parser guarantees the colon, the CRLF and the token name before the colon.
                var colon = lineStart
                while all[colon] != UInt8(ascii: ":") { colon += 1 }
                let lineEnd = Self.lineEnd(UnsafeRawBufferPointer(all), from: colon + 1) - 1  // the LF
                var start = colon + 1
                var end = lineEnd - 1  // the CR
                while start < end, all[start] == 0x20 || all[start] == 0x09 { start += 1 }
                while end > start, all[end - 1] == 0x20 || all[end - 1] == 0x09 { end -= 1 }
                guard try body(UnsafeBufferPointer(rebasing: all[lineStart..<colon]), UnsafeBufferPointer(rebasing: all[start..<end])) else {
                    return
                }
                lineStart = lineEnd + 1
            }
        }
    }

    /// The offset just after the LF that ends the line starting at `start` (the parser has made
    /// sure there is one, and no LF before it within the line).
    @inline(__always)
    package static func lineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var index = start
        while index + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ (ones &* 0x0A)
            let found = (word &- ones) & ~word & highs  // the lowest flag is the first LF exactly
            if found != 0 { return index + HTTP1Parser.firstFlagged(found) + 1 }
            index += 8
        }
        while bytes[index] != 0x0A { index += 1 }
        return index + 1
    }

    /// The fields as the parser would have made them, but those whose bit is set in `omit`, in
    /// an array with room for `extra` more.
    package func pairs(omitting omit: UInt64 = 0, reservingCapacity extra: Int = 0) -> [(String, String)] {
        var fields: [(String, String)] = []
        fields.reserveCapacity(8 + extra)
        var bit: UInt64 = 1
        self.forEach { name, value in
            defer { bit = bit &<< 1 }
            if omit & bit != 0 { return }
            fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return fields
    }

    /// The fields but those whose bit is set in `omit`, followed by `after`'s.
    package func headers(omitting omit: UInt64, then after: HTTPHeaders) -> HTTPHeaders {
        var fields = self.pairs(omitting: omit, reservingCapacity: after.count)
        for field in after { fields.append(field) }
        return HTTPHeaders(fields)
    }

    /// The fields as the parser would have made them.
    package func headers(reservingCapacity extra: Int = 0) -> HTTPHeaders {
        HTTPHeaders(self.pairs(reservingCapacity: extra))
    }

    /// `fields` written out in the writer's form (`name: value` CRLF, in order, nothing left out).
    package init(writing fields: HTTPHeaders) {
        self.init(writingLines: fields.lazy.map { ($0.name, Substring($0.value)) })
    }

    /// Each name and value written out as a line in the writer's form (`name: value` CRLF, in
    /// order), into storage reserved at once: the values as given (the caller trims them).
    package init<Lines: Collection<(String, Substring)>>(writingLines lines: Lines) {
        var size = 0
        for (name, value) in lines { size += name.utf8.count + value.utf8.count + 4 }
        var bytes = ByteBuffer()
        bytes.reserveCapacity(size)
        for (name, value) in lines {
            bytes.writeString(name)
            bytes.writeStaticString(": ")
            bytes.writeSubstring(value)
            bytes.writeStaticString("\r\n")
        }
        self.init(bytes)
    }
}
