import NIOHTTP1

/// What the parser noted about a head's fields while it read them as bytes, before they became
/// `String`s: what the agent and the proxy decide keep-alive, framing and the hop-by-hop fields
/// from, so that they need not read the fields again. Every pass over an `HTTPHeaders` copies each
/// field out of it (a retain and a release for each `String` stored out of line), and a proxied
/// response's head used to be read six times between the parser and the writer.
///
/// It describes the head as parsed: whoever edits the head's fields stops passing it on.
package struct HTTP1HeadFacts: Sendable, Equatable {
    /// The fields of the head.
    package var fieldCount = 0
    /// Bytes of the fields' names and (trimmed) values.
    package var fieldBytes = 0
    /// Bit i is set when field i is one of the hop-by-hop fields of RFC 9110 §7.6.1 (with
    /// `Proxy-Connection` and `Keep-Alive`; `HeaderRewriting.hopByHop`'s list). Only the first 64
    /// fields have a bit: see `coversAllFields`.
    package var hopByHop: UInt64 = 0
    package var hosts = 0
    package var hasContentLength = false
    package var hasTransferEncoding = false
    package var hasVia = false
    package var hasExpect = false
    package var hasUpgrade = false
    /// `Connection` tokens.
    package var connectionClose = false
    package var connectionKeepAlive = false
    package var connectionUpgrade = false
    /// `Connection` names something besides `close` and `keep-alive` (`upgrade` included): those
    /// fields are hop-by-hop too.
    package var connectionNamesOthers = false
    /// The `timeout` parameter of the first `Keep-Alive` field, in seconds.
    package var keepAliveTimeout: Int?
    private var keepAliveFieldSeen = false
    /// Requests: the body's length when `Content-Length` gives one (equal values if repeated).
    package var contentLength: Int?
    /// Requests: the body's framing is plain, at most a valid `Content-Length` (equal values if
    /// repeated) or `Transfer-Encoding: chunked` alone in HTTP/1.1 with no length.
    package var plainFraming = true

    package init() {}

    /// Whether `hopByHop` has a bit for every field.
    package var coversAllFields: Bool { self.fieldCount <= 64 }

    /// `HTTP1Fields.isKeepAlive` for this head: a `close` token says no; else `keep-alive` says yes;
    /// else HTTP/1.1 and later say yes.
    package func keepsAlive(_ version: HTTPVersion) -> Bool {
        !self.connectionClose && (self.connectionKeepAlive || (version.major == 1 && version.minor >= 1) || version.major > 1)
    }

    /// Notes field number `index` (name and trimmed value), as the parser reads it.
    mutating func note(index: Int, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
        self.fieldCount = index + 1
        self.fieldBytes &+= name.count &+ value.count
        let hopByHop: Bool
        switch name.count {
        case 2:
            hopByHop = ASCII.equals(name, "te")
        case 3:
            if ASCII.equals(name, "via") { self.hasVia = true }
            hopByHop = false
        case 4:
            if ASCII.equals(name, "host") { self.hosts += 1 }
            hopByHop = false
        case 6:
            if ASCII.equals(name, "expect") { self.hasExpect = true }
            hopByHop = false
        case 7:
            if ASCII.equals(name, "upgrade") {
                self.hasUpgrade = true
                hopByHop = true
            } else {
                hopByHop = ASCII.equals(name, "trailer")
            }
        case 10:
            if ASCII.equals(name, "connection") {
                self.noteConnection(value)
                hopByHop = true
            } else if ASCII.equals(name, "keep-alive") {
                if !self.keepAliveFieldSeen { self.keepAliveTimeout = Self.timeout(value) }
                self.keepAliveFieldSeen = true
                hopByHop = true
            } else {
                hopByHop = false
            }
        case 14:
            if ASCII.equals(name, "content-length") { self.hasContentLength = true }
            hopByHop = false
        case 16:
            hopByHop = ASCII.equals(name, "proxy-connection")
        case 17:
            if ASCII.equals(name, "transfer-encoding") {
                self.hasTransferEncoding = true
                hopByHop = true
            } else {
                hopByHop = false
            }
        case 18:
            hopByHop = ASCII.equals(name, "proxy-authenticate")
        case 19:
            hopByHop = ASCII.equals(name, "proxy-authorization")
        default:
            hopByHop = false
        }
        if hopByHop && index < 64 { self.hopByHop |= 1 << UInt64(index) }
    }

    private mutating func noteConnection(_ value: UnsafeBufferPointer<UInt8>) {
        HTTP1Fields.forEachElement(value) { token in
            if token.isEmpty { return }
            if ASCII.equals(token, "close") {
                self.connectionClose = true
            } else if ASCII.equals(token, "keep-alive") {
                self.connectionKeepAlive = true
            } else {
                if ASCII.equals(token, "upgrade") { self.connectionUpgrade = true }
                self.connectionNamesOthers = true
            }
        }
    }

    /// `timeout=N` among a `Keep-Alive` value's comma-separated parameters (the first valid one).
    private static func timeout(_ value: UnsafeBufferPointer<UInt8>) -> Int? {
        var seconds: Int?
        HTTP1Fields.forEachElement(value) { parameter in
            guard seconds == nil, let equals = parameter.firstIndex(of: UInt8(ascii: "=")) else { return }
            let name = HTTP1Fields.trimmed(UnsafeBufferPointer(rebasing: parameter[..<equals]))
            let digits = HTTP1Fields.trimmed(UnsafeBufferPointer(rebasing: parameter[(equals + 1)...]))
            guard ASCII.equals(name, "timeout"), !digits.isEmpty, digits.count <= 18,
                digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
            else { return }
            seconds = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        return seconds
    }
}
