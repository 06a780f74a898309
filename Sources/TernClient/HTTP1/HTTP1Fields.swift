import NIOHTTP1

/// Readings of a head's fields on their bytes, without the arrays and substrings of NIO's
/// `headers[canonicalForm:]`, which its `isKeepAlive` uses on every head we build ourselves
/// (NIO's own decoder precomputed the answer; ours hands heads over through the public API).
package enum HTTP1Fields {
    /// Whether the connection stays open after this message (RFC 9112 §9.3): a `close` token in
    /// `Connection` says no; else `keep-alive` says yes; else HTTP/1.1 and later say yes.
    package static func isKeepAlive(_ headers: HTTPHeaders, version: HTTPVersion) -> Bool {
        var keepAlive = false
        for (name, value) in headers where name.utf8.count == 10 && ASCII.equals(name, "connection") {
            var close = false
            Self.forEachToken(value) { token in
                if ASCII.equals(token, "close") { close = true } else if ASCII.equals(token, "keep-alive") { keepAlive = true }
            }
            if close { return false }
        }
        return keepAlive || (version.major == 1 && version.minor >= 1) || version.major > 1
    }

    package enum ContentLengthReading {
        case valid
        case malformed
        case conflicting
    }

    /// Reads one `Content-Length` value into `length`, which holds what earlier fields said.
    /// `5, 5` and repeated equal fields are one length (RFC 9110 §8.6); anything else is two
    /// lengths (`conflicting`) or none (`malformed`: not 1 to 18 digits).
    package static func readContentLength(_ value: UnsafeBufferPointer<UInt8>, into length: inout Int?) -> ContentLengthReading {
        var reading = ContentLengthReading.valid
        Self.forEachElement(value) { digits in
            guard reading == .valid else { return }
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                reading = .malformed
                return
            }
            let number = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            if let previous = length, previous != number { reading = .conflicting }
            length = number
        }
        return reading
    }

    /// Calls `body` with each comma-separated token of `value`, spaces and tabs trimmed, empty
    /// ones skipped.
    package static func forEachToken(_ value: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        ASCII.withBytes(value) { bytes in
            Self.forEachElement(bytes) { element in
                if !element.isEmpty { body(element) }
            }
        }
    }

    /// Calls `body` with each comma-separated element of `bytes`, spaces and tabs trimmed, empty
    /// ones included (as `split(separator:omittingEmptySubsequences: false)` would, without its array).
    package static func forEachElement(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var start = 0
        while true {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: ",") { end += 1 }
            var low = start
            var high = end
            while low < high && (bytes[low] == UInt8(ascii: " ") || bytes[low] == UInt8(ascii: "\t")) { low += 1 }
            while high > low && (bytes[high - 1] == UInt8(ascii: " ") || bytes[high - 1] == UInt8(ascii: "\t")) { high -= 1 }
            body(UnsafeBufferPointer(rebasing: bytes[low..<high]))
            guard end < bytes.count else { return }
            start = end + 1
        }
    }
}

extension HTTPRequestHead {
    /// `isKeepAlive`, read on the fields' bytes.
    package var keepsAlive: Bool { HTTP1Fields.isKeepAlive(self.headers, version: self.version) }
}

extension HTTPResponseHead {
    /// `isKeepAlive`, read on the fields' bytes.
    package var keepsAlive: Bool { HTTP1Fields.isKeepAlive(self.headers, version: self.version) }
}
