import NIOHTTP1
import TernClient

extension CachePolicy {
    /// Which of the request fields that change a cache's answer are present, found in one pass
    /// over the head's field names. Most requests have none of them; for those a hit parses no
    /// directives, evaluates no conditions and looks for no range, and the request's fields need
    /// not be read into `HTTPHeaders` at all.
    struct RequestTraits: Equatable, Sendable {
        /// `Cache-Control` or `Pragma` (RFC 9111 §5.2.1, §5.4).
        var hasCacheDirectives = false
        /// `If-Match`, `If-None-Match`, `If-Modified-Since` or `If-Unmodified-Since` (RFC 9110 §13).
        var hasConditional = false
        /// `Range` (RFC 9110 §14.2); `If-Range` means nothing without it.
        var hasRange = false
        /// `If-Range` (RFC 9110 §13.1.5).
        var hasIfRange = false
        /// `Authorization` (RFC 9111 §3.5).
        var hasAuthorization = false

        init(_ headers: HTTPHeaders) {
            for (name, _) in headers {
                var name = name
                name.withUTF8 { self.note($0) }
            }
        }

        init(_ lines: HTTP1RawFields) {
            lines.forEach { name, _ in self.note(name) }
        }

        /// The request has none of the fields that make the cache's upstream request differ from
        /// the client's (the cache drops conditions and ranges when it fills or revalidates).
        var leavesUpstreamAlone: Bool { !self.hasConditional && !self.hasRange && !self.hasIfRange }

        private mutating func note(_ name: UnsafeBufferPointer<UInt8>) {
            switch name.count {
            case 5:
                if ASCII.equals(name, "range") { self.hasRange = true }
            case 6:
                if ASCII.equals(name, "pragma") { self.hasCacheDirectives = true }
            case 8:
                if ASCII.equals(name, "if-match") {
                    self.hasConditional = true
                } else if ASCII.equals(name, "if-range") {
                    self.hasIfRange = true
                }
            case 13:
                if ASCII.equals(name, "cache-control") {
                    self.hasCacheDirectives = true
                } else if ASCII.equals(name, "if-none-match") {
                    self.hasConditional = true
                } else if ASCII.equals(name, "authorization") {
                    self.hasAuthorization = true
                }
            case 17:
                if ASCII.equals(name, "if-modified-since") { self.hasConditional = true }
            case 19:
                if ASCII.equals(name, "if-unmodified-since") { self.hasConditional = true }
            default:
                break
            }
        }
    }
}
