import NIOHTTP1

extension CachePolicy {
    /// Which of the request fields that change a cache's answer are present, found in one pass
    /// over the head. Most requests have none of them; for those a hit parses no directives,
    /// evaluates no conditions and looks for no range.
    struct RequestTraits: Equatable, Sendable {
        /// `Cache-Control` or `Pragma` (RFC 9111 §5.2.1, §5.4).
        var hasCacheDirectives = false
        /// `If-Match`, `If-None-Match`, `If-Modified-Since` or `If-Unmodified-Since` (RFC 9110 §13).
        var hasConditional = false
        /// `Range` (RFC 9110 §14.2); `If-Range` means nothing without it.
        var hasRange = false

        init(_ headers: HTTPHeaders) {
            for (name, _) in headers {
                switch name.utf8.count {
                case 5:
                    if CachePolicy.equalsLowercased(name, "range") { self.hasRange = true }
                case 6:
                    if CachePolicy.equalsLowercased(name, "pragma") { self.hasCacheDirectives = true }
                case 8:
                    if CachePolicy.equalsLowercased(name, "if-match") { self.hasConditional = true }
                case 13:
                    if CachePolicy.equalsLowercased(name, "cache-control") {
                        self.hasCacheDirectives = true
                    } else if CachePolicy.equalsLowercased(name, "if-none-match") {
                        self.hasConditional = true
                    }
                case 17:
                    if CachePolicy.equalsLowercased(name, "if-modified-since") { self.hasConditional = true }
                case 19:
                    if CachePolicy.equalsLowercased(name, "if-unmodified-since") { self.hasConditional = true }
                default:
                    break
                }
            }
        }
    }
}
