import NIOHTTP1

extension CachePolicy {
    /// RFC 9111 §4.4: a non-error response (2xx or 3xx) to an unsafe method (anything but GET,
    /// HEAD, OPTIONS and TRACE) invalidates the stored responses of the target URI.
    static func invalidates(method: HTTPMethod, status: UInt) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .TRACE: return false
        case .RAW(let value) where value == "GET" || value == "HEAD" || value == "OPTIONS" || value == "TRACE": return false
        default: return status >= 200 && status <= 399
        }
    }

    /// RFC 9111 §4.4: the further targets to invalidate: `Location` and `Content-Location` when
    /// they are on the same origin as the request (an absolute URI with the same scheme and
    /// host[:port], default ports normalized; a network-path reference with the same host; or a
    /// relative reference, resolved against `requestPath`). Returns request-targets (`/path?q`,
    /// dot segments removed, no fragment), without duplicates and without `requestPath` itself.
    static func invalidationTargets(responseHeaders: HTTPHeaders, scheme: String, host: String, requestPath: String) -> [String] {
        var targets: [String] = []
        for field in ["location", "content-location"] {
            guard let value = Self.firstValue(responseHeaders, field), !value.isEmpty,
                let target = Self.sameOriginTarget(value, scheme: scheme, host: host, requestPath: requestPath),
                target != requestPath, !targets.contains(target)
            else { continue }
            targets.append(target)
        }
        return targets
    }

    /// The request-target of `reference` when it is on the origin `scheme://host`, else nil.
    static func sameOriginTarget(_ reference: Substring, scheme: String, host: String, requestPath: String) -> String? {
        var reference = reference
        if let hash = reference.firstIndex(of: "#") { reference = reference[..<hash] }
        guard !reference.contains(where: { $0 == " " || $0 == "\t" || $0 == "\\" }) else { return nil }
        var rest = reference
        if let colon = reference.firstIndex(of: ":"),
            reference[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".") }),
            reference.first?.isLetter == true
        {
            // An absolute URI: scheme, then "//authority".
            guard Self.equalsIgnoringCase(String(reference[..<colon]), scheme) else { return nil }
            rest = reference[reference.index(after: colon)...]
            guard rest.hasPrefix("//") else { return nil }
        }
        if rest.hasPrefix("//") {
            let afterSlashes = rest.dropFirst(2)
            let end = afterSlashes.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterSlashes.endIndex
            guard Self.sameAuthority(afterSlashes[..<end], host, scheme: scheme) else { return nil }
            let target = afterSlashes[end...]
            return Self.removeDotSegments(target.isEmpty ? "/" : target.hasPrefix("?") ? "/" + target : String(target))
        }
        return Self.resolve(rest, against: requestPath)
    }

    /// RFC 3986 §5.2.2 for a relative reference without authority, against a request-target.
    private static func resolve(_ reference: Substring, against base: String) -> String {
        let basePath = base.firstIndex(of: "?").map { String(base[..<$0]) } ?? base
        if reference.isEmpty { return base }
        if reference.hasPrefix("/") { return Self.removeDotSegments(String(reference)) }
        if reference.hasPrefix("?") { return basePath + reference }
        let directory = basePath.lastIndex(of: "/").map { String(basePath[...$0]) } ?? "/"
        return Self.removeDotSegments(directory + reference)
    }

    /// RFC 3986 §5.2.4 on the path part; the query is kept as it is.
    static func removeDotSegments(_ target: String) -> String {
        let queryStart = target.firstIndex(of: "?") ?? target.endIndex
        let path = target[..<queryStart]
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (i, segment) in segments.enumerated() {
            let isLast = i == segments.count - 1
            if segment == "." {
                if isLast { output.append("") }
            } else if segment == ".." {
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            } else {
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/") + target[queryStart...]
    }

    /// Whether two authorities name the same host and port, ignoring case and default ports.
    private static func sameAuthority(_ authority: Substring, _ host: String, scheme: String) -> Bool {
        if authority.contains("@") { return false }
        let defaultPort = Self.equalsIgnoringCase(scheme, "https") ? ":443" : Self.equalsIgnoringCase(scheme, "http") ? ":80" : nil
        func normalized(_ text: Substring) -> String {
            var text = text.lowercased()
            if let defaultPort, text.hasSuffix(defaultPort) { text.removeLast(defaultPort.count) }
            if text.hasSuffix(":") { text.removeLast() }
            return text
        }
        return !authority.isEmpty && normalized(authority) == normalized(Substring(host))
    }
}
