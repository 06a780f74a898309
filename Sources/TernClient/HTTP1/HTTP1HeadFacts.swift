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
    /// Bit i is set when field i is one of the hop-by-hop fields (`HTTP1Fields.hopByHop`). Only the first 64
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
    /// Bit i is set when field i is `X-Forwarded-For`, `-Proto` or `-Host` (the first 64 fields).
    package var xForwarded: UInt64 = 0

    package init() {}

    /// Whether `hopByHop` has a bit for every field.
    package var coversAllFields: Bool { self.fieldCount <= 64 }

    /// `HTTP1Fields.isKeepAlive` for this head: a `close` token says no; else `keep-alive` says yes;
    /// else HTTP/1.1 and later say yes.
    package func keepsAlive(_ version: HTTPVersion) -> Bool {
        HTTP1Fields.keepsAlive(close: self.connectionClose, keepAlive: self.connectionKeepAlive, version: version)
    }

    /// Notes field number `index` (name and trimmed value), as the parser reads it; returns which
    /// known field it is (the parser reads the framing fields on from there).
    mutating func note(index: Int, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> HTTP1Fields.KnownName? {
        self.fieldCount = index + 1
        self.fieldBytes &+= name.count &+ value.count
        guard let known = HTTP1Fields.knownName(name) else { return nil }
        let bit: UInt64 = index < 64 ? 1 << UInt64(index) : 0
        if known.isHopByHop { self.hopByHop |= bit }
        switch known {
        case .connection:
            if HTTP1Fields.readConnection(value, close: &self.connectionClose, keepAlive: &self.connectionKeepAlive) {
                self.connectionNamesOthers = true
                HTTP1Fields.forEachElement(value) { if ASCII.equals($0, "upgrade") { self.connectionUpgrade = true } }
            }
        case .keepAlive:
            if !self.keepAliveFieldSeen { self.keepAliveTimeout = HTTP1Fields.keepAliveTimeout(value) }
            self.keepAliveFieldSeen = true
        case .transferEncoding: self.hasTransferEncoding = true
        case .upgrade: self.hasUpgrade = true
        case .via: self.hasVia = true
        case .host: self.hosts += 1
        case .expect: self.hasExpect = true
        case .contentLength: self.hasContentLength = true
        case .xForwardedFor, .xForwardedHost, .xForwardedProto: self.xForwarded |= bit
        case .proxyConnection, .te, .trailer, .proxyAuthenticate, .proxyAuthorization: break
        }
        return known
    }
}
