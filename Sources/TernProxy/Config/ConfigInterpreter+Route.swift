/// `route [HOST]/PREFIX { proxy … | respond … ; … }`.
extension ConfigInterpreter {
    static let expectedRoute = "a route like api.example.com/v1/, *.example.com/ or /v1/"

    mutating func route(_ directive: ConfigDirective, _ patternToken: ConfigToken) {
        let pattern = self.routePattern(patternToken)
        if let pattern {
            let key = "\(pattern.host) \(pattern.path)"
            if let first = self.routeLocations[key] {
                self.error("duplicate route '\(Self.show(patternToken.text))' (first at \(first))", at: patternToken.location)
            } else {
                self.routeLocations[key] = directive.location
            }
        }

        var action: ProxyConfiguration.Route.Action?
        var actionDirective: ConfigDirective?
        /// Whether a `proxy` or `respond` was written at all, even a broken one.
        var sawAction = false
        var proxyOnly: [ConfigDirective] = []
        var stripToken: ConfigToken?
        var rewriteDirective: ConfigDirective?
        var route = ProxyConfiguration.Route(host: .any, pathPrefix: "/", action: .respond(status: 404, body: ""), location: directive.location)
        var timeoutLocations: [String: SourceLocation] = [:]
        var seen: [String: SourceLocation] = [:]

        for inner in directive.block?.directives ?? [] {
            let name = inner.name.text
            if ConfigVocabulary.spec(named: name) == nil,
                let meant = ConfigVocabulary.nginxNames[name] ?? ConfigVocabulary.nearest(to: name, among: ["proxy", "respond"]),
                meant == "proxy" || meant == "respond"
            {
                // A misspelt `proxi app` is reported as such; "needs proxy or respond" would be noise.
                sawAction = true
            }
            if name == "proxy" || name == "respond" {
                if let first = actionDirective, first.name.text != name {
                    self.error("a route takes 'proxy' or 'respond', not both", at: inner.location)
                    continue
                }
                sawAction = true
            }
            guard let (spec, arguments) = self.accept(inner, in: .route, seen: &seen) else { continue }
            switch spec.name {
            case "proxy":
                actionDirective = inner
                if let upstream = self.proxyTarget(arguments[0]) { action = .proxy(upstream: upstream) }
            case "respond":
                actionDirective = inner
                if let status = self.value(arguments[0], expected: ConfigValue.expectedStatus, ConfigValue.status) {
                    action = .respond(status: status, body: arguments.count > 1 ? arguments[1].text : "")
                }
            case "strip-prefix":
                proxyOnly.append(inner)
                let token = arguments[0]
                if ConfigValue.isPath(token.text) {
                    route.stripPrefix = token.text
                    stripToken = token
                } else {
                    self.expected("a path prefix starting with '/', like /v1", got: token.text, at: token.location)
                }
            case "rewrite-prefix":
                proxyOnly.append(inner)
                rewriteDirective = inner
                let (from, to) = (arguments[0], arguments[1])
                let fromValid = ConfigValue.isPath(from.text)
                if !fromValid { self.expected("a path prefix starting with '/', like /old/", got: from.text, at: from.location) }
                let toValid = ConfigValue.isPath(to.text)
                if !toValid { self.expected("a path prefix starting with '/', like /new/", got: to.text, at: to.location) }
                if fromValid && toValid { route.rewritePrefix = (from.text, to.text) }
            case "request-header":
                proxyOnly.append(inner)
                if let rule = self.headerRule(inner, arguments, spec, request: true) { route.requestHeaders.append(rule) }
            case "response-header":
                if let rule = self.headerRule(inner, arguments, spec, request: false) { route.responseHeaders.append(rule) }
            case "host-header":
                proxyOnly.append(inner)
                if let hostHeader = self.hostHeader(arguments[0]) { route.hostHeader = hostHeader }
            case "timeout":
                proxyOnly.append(inner)
                let kind = arguments[0]
                if let first = timeoutLocations[kind.text] {
                    self.error("duplicate 'timeout \(Self.show(kind.text))' (first at \(first))", at: inner.location)
                    continue
                }
                timeoutLocations[kind.text] = inner.location
                self.timeout(kind, arguments[1], into: &route.timeouts)
            case "max-body":
                if let size = self.bodySize(arguments[0]) { route.maxBodySize = size }
            case "cache":
                self.cache(inner, arguments, inRoute: true)
                if arguments[0].text == "off" { route.cacheDisabled = true }
            default: preconditionFailure("'\(spec.name)' is in the vocabulary in route but has no handler")
            }
        }

        if let pattern, let stripToken, let strip = route.stripPrefix, !pattern.path.hasPrefix(strip) {
            self.error(
                "strip-prefix '\(Self.show(strip))' is not a prefix of the route's path '\(Self.show(pattern.path))'",
                at: stripToken.location)
        }
        if stripToken != nil, let rewriteDirective {
            self.error("a route takes 'strip-prefix' or 'rewrite-prefix', not both", at: rewriteDirective.location)
        }
        if case .respond? = action {
            for inner in proxyOnly {
                self.error("'\(inner.name.text)' has no effect in a route that uses 'respond'", at: inner.location)
            }
        }
        if !sawAction {
            self.error(
                "route '\(Self.show(patternToken.text))' needs 'proxy' or 'respond' (like 'proxy app' or 'respond 200 \"ok\"')",
                at: directive.location)
        }
        guard let pattern, let action else { return }
        route.host = pattern.host
        route.pathPrefix = pattern.path
        route.action = action
        self.configuration.routes.append(route)
    }

    /// `api.example.com/v1/`, `*.example.com/`, `/v1/`; a host alone means its whole site.
    private mutating func routePattern(_ token: ConfigToken) -> (host: ProxyConfiguration.Route.HostMatch, path: String)? {
        let text = token.text
        if text.contains("://") {
            self.expected(Self.expectedRoute + " (no scheme: listeners decide that)", got: text, at: token.location)
            return nil
        }
        let slash = text.firstIndex(of: "/") ?? text.endIndex
        let hostText = String(text[..<slash])
        let path = slash == text.endIndex ? "/" : String(text[slash...])
        var host: ProxyConfiguration.Route.HostMatch
        switch hostText {
        case "", "*":
            host = .any
        case _ where hostText.hasPrefix("*."):
            let suffix = hostText.dropFirst(2)
            guard ConfigValue.isHostName(suffix) else {
                self.expected(Self.expectedRoute, got: text, at: token.location)
                return nil
            }
            host = .suffix("." + suffix.lowercased())
        case _ where hostText.hasPrefix("[") && hostText.hasSuffix("]") && ConfigValue.isIPAddress(String(hostText.dropFirst().dropLast())):
            // Matched against `Host` as clients send it: an IPv6 literal keeps its brackets.
            host = .exact(hostText.lowercased())
        case _ where ConfigValue.isHostName(hostText):
            host = .exact(hostText.lowercased())
        default:
            if let colon = hostText.lastIndex(of: ":"), ConfigValue.isHostName(hostText[..<colon]) || hostText.hasPrefix("[") {
                self.error(
                    "a route matches the host name without a port: write '\(Self.show(String(hostText[..<colon])))\(Self.show(path))'",
                    at: token.location)
            } else {
                self.expected(Self.expectedRoute, got: text, at: token.location)
            }
            return nil
        }
        guard ConfigValue.isPath(path) else {
            self.expected("a path prefix without spaces, '?' or '#'", got: path, at: token.location(atOffset: hostText.unicodeScalars.count))
            return nil
        }
        return (host, path)
    }

    /// An upstream name, or `http(s)://host[:port]`, which becomes an upstream of one server named
    /// after the URL. Returns the upstream's name.
    private mutating func proxyTarget(_ token: ConfigToken) -> String? {
        let text = token.text
        guard let schemeEnd = text.range(of: "://") else {
            if Self.isUpstreamName(text) {
                self.upstreamReferences.append(token)
                return text
            }
            self.expected("an upstream name or a URL like http://127.0.0.1:9001", got: text, at: token.location)
            return nil
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            self.expected("an http:// or https:// URL", got: text, at: token.location)
            return nil
        }
        let authority = text[schemeEnd.upperBound...]
        if authority.contains(where: { $0 == "/" || $0 == "?" || $0 == "#" }) {
            self.error(
                "a proxy URL has no path: the request's own path is sent (change it with strip-prefix or rewrite-prefix)",
                at: token.location)
            return nil
        }
        if authority.contains("@") {
            self.expected("a URL without user info", got: text, at: token.location)
            return nil
        }
        let offset = text.distance(from: text.startIndex, to: schemeEnd.upperBound)
        guard let (host, port) = self.hostAndPort(String(authority), at: token, offset: offset) else { return nil }
        if self.configuration.upstreams[text] == nil {
            let usesTLS = scheme == "https"
            let server = ProxyConfiguration.Server(host: host, port: port ?? (usesTLS ? 443 : 80), location: token.location)
            var upstream = ProxyConfiguration.Upstream(name: text, servers: [server], location: token.location)
            upstream.usesTLS = usesTLS
            self.configuration.upstreams[text] = upstream
            self.upstreamLocations[text] = token.location
        }
        return text
    }

    /// Fields the proxy itself frames or sets; editing them would break the message, not change it.
    private static let managedHeaders: Set<String> = ["content-length", "transfer-encoding", "connection"]

    private mutating func headerRule(
        _ directive: ConfigDirective, _ arguments: [ConfigToken], _ spec: DirectiveSpec, request: Bool
    ) -> ProxyConfiguration.HeaderRule? {
        let operation = arguments[0]
        let needed: Int
        switch operation.text {
        case "set", "add": needed = 3
        case "remove": needed = 2
        default:
            self.expected("'set', 'add' or 'remove'", got: operation.text, at: operation.location)
            return nil
        }
        guard arguments.count >= needed else {
            self.missingArgument(to: directive, spec)
            return nil
        }
        if arguments.count > needed {
            self.extraArgument(arguments[needed], to: spec)
        }
        let name = arguments[1]
        guard ConfigValue.isHeaderName(name.text) else {
            self.expected("a header name", got: name.text, at: name.location)
            return nil
        }
        let lowered = name.text.lowercased()
        if request && lowered == "host" {
            self.error("set Host with 'host-header', not 'request-header'", at: name.location)
            return nil
        }
        if Self.managedHeaders.contains(lowered) {
            self.error("'\(name.text)' is managed by the proxy and cannot be changed", at: name.location)
            return nil
        }
        switch operation.text {
        case "remove":
            return .remove(name: name.text)
        default:
            let value = arguments[2]
            guard ConfigValue.isHeaderValue(value.text) else {
                self.expected("a header value without control characters", got: value.text, at: value.location)
                return nil
            }
            return operation.text == "set" ? .set(name: name.text, value: value.text) : .add(name: name.text, value: value.text)
        }
    }

    private mutating func hostHeader(_ token: ConfigToken) -> ProxyConfiguration.Route.HostHeader? {
        switch token.text {
        case "keep": return .keep
        case "upstream": return .upstream
        default:
            if let (host, port, bracketed) = self.splitHostAndPort(Substring(token.text)),
                bracketed ? ConfigValue.isIPAddress(String(host)) : ConfigValue.isHostName(host),
                port.map({ ConfigValue.port($0) != nil }) ?? true
            {
                return .set(token.text)
            }
            self.expected("'keep', 'upstream' or a host like example.com", got: token.text, at: token.location)
            return nil
        }
    }

    private mutating func timeout(_ kind: ConfigToken, _ value: ConfigToken, into timeouts: inout ProxyConfiguration.Timeouts) {
        switch kind.text {
        case "connect":
            if let duration = self.positiveDuration(value.text, at: value.location) { timeouts.connect = duration }
        case "read":
            if let duration = self.positiveDuration(value.text, at: value.location) { timeouts.read = duration }
        case "request":
            // `timeout request 0`: no deadline for the whole exchange (the default).
            if let duration = self.value(value, expected: ConfigValue.expectedDuration, ConfigValue.duration) {
                timeouts.request = duration == .zero ? nil : duration
            }
        default:
            self.expected("'connect', 'read' or 'request'", got: kind.text, at: kind.location)
        }
    }
}
