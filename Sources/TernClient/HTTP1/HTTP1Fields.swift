import NIOHTTP1

/// Readings of a head's fields on their bytes, without the arrays and substrings of NIO's
/// `headers[canonicalForm:]`, which its `isKeepAlive` uses on every head we build ourselves
/// (NIO's own decoder precomputed the answer; ours hands heads over through the public API).
package enum HTTP1Fields {
    /// Whether the connection stays open after this message (RFC 9112 §9.3): a `close` token in
    /// `Connection` says no; else `keep-alive` says yes; else HTTP/1.1 and later say yes.
    package static func isKeepAlive(_ headers: HTTPHeaders, version: HTTPVersion) -> Bool {
        var close = false
        var keepAlive = false
        for (name, value) in headers where name.utf8.count == 10 && ASCII.equals(name, "connection") {
            _ = ASCII.withBytes(value) { Self.readConnection($0, close: &close, keepAlive: &keepAlive) }
            if close { return false }
        }
        return Self.keepsAlive(close: close, keepAlive: keepAlive, version: version)
    }

    /// RFC 9112 §9.3 from what `Connection` said.
    package static func keepsAlive(close: Bool, keepAlive: Bool, version: HTTPVersion) -> Bool {
        !close && (keepAlive || (version.major == 1 && version.minor >= 1) || version.major > 1)
    }

    /// Notes the `close` and `keep-alive` tokens of one `Connection` value; returns whether it
    /// names anything else (`upgrade` included), whose fields are then hop-by-hop too.
    @discardableResult
    package static func readConnection(_ value: UnsafeBufferPointer<UInt8>, close: inout Bool, keepAlive: inout Bool) -> Bool {
        var others = false
        Self.forEachElement(value) { token in
            if token.isEmpty { return }
            if ASCII.equals(token, "close") {
                close = true
            } else if ASCII.equals(token, "keep-alive") {
                keepAlive = true
            } else {
                others = true
            }
        }
        return others
    }

    /// Hop-by-hop fields (RFC 9110 §7.6.1), plus `Proxy-Connection` and `Keep-Alive`, which old
    /// clients still send; Go's httputil.ReverseProxy strips the same list. Lowercase.
    package static let hopByHop = [
        "connection", "proxy-connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// The position of the field name `name` in `hopByHop` (any case), or nil.
    package static func hopByHopIndex(_ name: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let known = Self.knownName(name), known.isHopByHop else { return nil }
        return Int(known.rawValue)
    }

    /// The field names whose fields a head's facts (`HTTP1HeadFacts`) note. The first nine are
    /// `hopByHop`'s, in its order: their raw values are their positions there.
    package enum KnownName: UInt8, CaseIterable, Sendable {
        case connection, proxyConnection, keepAlive, te, trailer, transferEncoding, upgrade, proxyAuthenticate, proxyAuthorization
        case via, host, expect, contentLength, xForwardedFor, xForwardedHost, xForwardedProto

        package var isHopByHop: Bool { self.rawValue <= Self.proxyAuthorization.rawValue }
    }

    /// Which `KnownName` the field name `name` is (any case), or nil: one switch on its length and
    /// at most two comparisons, each a few words (`ASCII.equals`).
    @inline(__always)
    package static func knownName(_ name: UnsafeBufferPointer<UInt8>) -> KnownName? {
        switch name.count {
        case 2: return ASCII.equals(name, "te") ? .te : nil
        case 3: return ASCII.equals(name, "via") ? .via : nil
        case 4: return ASCII.equals(name, "host") ? .host : nil
        case 6: return ASCII.equals(name, "expect") ? .expect : nil
        case 7: return ASCII.equals(name, "trailer") ? .trailer : ASCII.equals(name, "upgrade") ? .upgrade : nil
        case 10: return ASCII.equals(name, "connection") ? .connection : ASCII.equals(name, "keep-alive") ? .keepAlive : nil
        case 14: return ASCII.equals(name, "content-length") ? .contentLength : nil
        case 15: return ASCII.equals(name, "x-forwarded-for") ? .xForwardedFor : nil
        case 16: return ASCII.equals(name, "proxy-connection") ? .proxyConnection : ASCII.equals(name, "x-forwarded-host") ? .xForwardedHost : nil
        case 17:
            return ASCII.equals(name, "transfer-encoding") ? .transferEncoding : ASCII.equals(name, "x-forwarded-proto") ? .xForwardedProto : nil
        case 18: return ASCII.equals(name, "proxy-authenticate") ? .proxyAuthenticate : nil
        case 19: return ASCII.equals(name, "proxy-authorization") ? .proxyAuthorization : nil
        default: return nil
        }
    }

    /// The `timeout` parameter (seconds) among a `Keep-Alive` value's comma-separated parameters:
    /// the first valid one.
    package static func keepAliveTimeout(_ value: UnsafeBufferPointer<UInt8>) -> Int? {
        var seconds: Int?
        Self.forEachElement(value) { parameter in
            guard seconds == nil, let equals = parameter.firstIndex(of: UInt8(ascii: "=")) else { return }
            let name = Self.trimmed(UnsafeBufferPointer(rebasing: parameter[..<equals]))
            let digits = Self.trimmed(UnsafeBufferPointer(rebasing: parameter[(equals + 1)...]))
            guard ASCII.equals(name, "timeout"), !digits.isEmpty, digits.count <= 18,
                digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
            else { return }
            seconds = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        return seconds
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

    /// The length `Content-Length` gives (`5, 5` and repeated equal fields are one length); nil
    /// without one, or when it is malformed or conflicting.
    package static func contentLength(_ headers: HTTPHeaders) -> Int? {
        var length: Int?
        for (name, value) in headers where name.utf8.count == 14 && ASCII.equals(name, "content-length") {
            guard ASCII.withBytes(value, { Self.readContentLength($0, into: &length) }) == .valid else { return nil }
        }
        return length
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
            body(Self.trimmed(UnsafeBufferPointer(rebasing: bytes[start..<end])))
            guard end < bytes.count else { return }
            start = end + 1
        }
    }

    /// `bytes` without the spaces and tabs at either end.
    package static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var low = 0
        var high = bytes.count
        while low < high && (bytes[low] == UInt8(ascii: " ") || bytes[low] == UInt8(ascii: "\t")) { low += 1 }
        while high > low && (bytes[high - 1] == UInt8(ascii: " ") || bytes[high - 1] == UInt8(ascii: "\t")) { high -= 1 }
        return UnsafeBufferPointer(rebasing: bytes[low..<high])
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

/// Method tests by case. `==` on `HTTPMethod` is `RawRepresentable`'s (NIO declares no `==` of its
/// own), which builds both operands' `rawValue` strings and compares them: four calls into the
/// runtime and a string comparison for each test, and the hot path made a dozen per request. A
/// `RAW` method spelled like a named one is still that method, as under `==`.
extension HTTPMethod {
    package var isGET: Bool { self.isCase(.GET, "GET") }
    package var isHEAD: Bool { self.isCase(.HEAD, "HEAD") }
    package var isCONNECT: Bool { self.isCase(.CONNECT, "CONNECT") }

    /// POST, PUT or PATCH: the methods whose requests carry a body (a length of 0 without one).
    package var isPOSTPUTOrPATCH: Bool {
        switch self {
        case .POST, .PUT, .PATCH: return true
        case .RAW(let value): return value == "POST" || value == "PUT" || value == "PATCH"
        default: return false
        }
    }

    @inline(__always)
    private func isCase(_ method: HTTPMethod, _ name: StaticString) -> Bool {
        switch (self, method) {
        case (.GET, .GET), (.HEAD, .HEAD), (.CONNECT, .CONNECT): return true
        case (.RAW(let value), _): return value == name.description
        default: return false
        }
    }
}
