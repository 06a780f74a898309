/// `upstream NAME { server … ; balance … ; health-check … ; scheme … ; ca … }`.
extension ConfigInterpreter {
    static let expectedUpstreamName = "an upstream name of letters, digits, '-', '_' and '.'"

    mutating func upstream(_ directive: ConfigDirective, _ nameToken: ConfigToken) {
        let name = nameToken.text
        var valid = true
        if !Self.isUpstreamName(name) {
            self.expected(Self.expectedUpstreamName, got: name, at: nameToken.location)
            valid = false
        } else if let first = self.upstreamLocations[name] {
            self.error("duplicate upstream '\(name)' (first at \(first))", at: nameToken.location)
            valid = false
        } else {
            self.upstreamLocations[name] = directive.location
        }

        var upstream = ProxyConfiguration.Upstream(name: name, servers: [], location: directive.location)
        /// Servers written without a port; they get the scheme's once the block is read.
        var withoutPort: Set<Int> = []
        var sawServer = false
        var caDirective: ConfigDirective?
        var seen: [String: SourceLocation] = [:]
        for inner in directive.block?.directives ?? [] {
            if inner.name.text == "server" { sawServer = true }
            guard let (spec, arguments) = self.accept(inner, in: .upstream, seen: &seen) else { continue }
            switch spec.name {
            case "server":
                guard let (server, hasPort) = self.server(inner, arguments) else { continue }
                if !hasPort { withoutPort.insert(upstream.servers.count) }
                upstream.servers.append(server)
            case "balance":
                if let balance = self.balance(inner, arguments, spec) { upstream.balance = balance }
            case "health-check":
                if let check = self.healthCheck(arguments) { upstream.healthCheck = check }
            case "scheme":
                switch arguments[0].text {
                case "http": upstream.usesTLS = false
                case "https": upstream.usesTLS = true
                default: self.expected("'http' or 'https'", got: arguments[0].text, at: arguments[0].location)
                }
            case "ca":
                caDirective = inner
                upstream.caFile = self.filePath(arguments[0].text, at: arguments[0].location)
            default: preconditionFailure("'\(spec.name)' is in the vocabulary in upstream but has no handler")
            }
        }
        for index in withoutPort where !upstream.servers[index].isUnixSocket {
            upstream.servers[index].port = upstream.usesTLS ? 443 : 80
        }
        if let caDirective, !upstream.usesTLS {
            self.error("'ca' needs 'scheme https' in the same upstream", at: caDirective.location)
        }
        if !sawServer {
            self.error("upstream '\(Self.show(name))' has no servers: add one, like 'server 127.0.0.1:9001'", at: directive.location)
            return
        }
        if valid { self.configuration.upstreams[name] = upstream }
    }

    static func isUpstreamName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 200
            && name.utf8.allSatisfy {
                ConfigValue.isDigit($0) || ConfigValue.isLetter($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
                    || $0 == UInt8(ascii: ".")
            }
    }

    /// `server ADDRESS [weight=N] [max-fails=N] [fail-timeout=D] [max-conns=N]`; whether it named a port.
    private mutating func server(_ directive: ConfigDirective, _ arguments: [ConfigToken]) -> (ProxyConfiguration.Server, Bool)? {
        let parsed = self.serverAddress(arguments[0])
        let options = self.options(arguments.dropFirst(), allowed: ["weight", "max-fails", "fail-timeout", "max-conns"], for: "server")
        var server = parsed?.0
        server?.location = directive.location
        if let option = options["weight"] {
            let weight = self.count(option.value, at: option.valueLocation, atLeast: 1, what: "a weight")
            server?.weight = weight ?? 1
            if weight == nil { server = nil }
        }
        if let option = options["max-fails"] {
            // 0 turns passive health checking off for this server, as `max_fails=0` does in nginx.
            let fails = self.count(option.value, at: option.valueLocation, atLeast: 0, what: "a count")
            server?.maxFails = fails ?? 1
            if fails == nil { server = nil }
        }
        if let option = options["fail-timeout"] {
            let timeout = self.positiveDuration(option.value, at: option.valueLocation)
            server?.failTimeout = timeout ?? .seconds(10)
            if timeout == nil { server = nil }
        }
        if let option = options["max-conns"] {
            let limit = self.count(option.value, at: option.valueLocation, atLeast: 1, what: "a connection count")
            server?.maxConnections = limit
            if limit == nil { server = nil }
        }
        guard let server, let parsed else { return nil }
        return (server, parsed.hasPort)
    }

    /// `host:port`, `[v6]:port`, `host` (port from the scheme), or `unix:/path`.
    mutating func serverAddress(_ token: ConfigToken) -> (ProxyConfiguration.Server, hasPort: Bool)? {
        let text = token.text
        if text.hasPrefix("unix:") {
            let pathText = String(text.dropFirst(5))
            guard !pathText.isEmpty else {
                self.expected("a socket path after 'unix:'", got: text, at: token.location)
                return nil
            }
            guard let path = self.socketPath(pathText, at: token.location(atOffset: 5)) else { return nil }
            var server = ProxyConfiguration.Server(host: path, port: 0, location: token.location)
            server.isUnixSocket = true
            return (server, true)
        }
        guard let (host, port) = self.hostAndPort(text, at: token) else { return nil }
        return (ProxyConfiguration.Server(host: host, port: port ?? 0, location: token.location), port != nil)
    }

    /// `host[:port]` or `[v6][:port]`; the host without brackets, lower-cased.
    func splitHostAndPort(_ text: Substring) -> (host: Substring, port: Substring?, bracketed: Bool)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, nil, true) }
            guard rest.hasPrefix(":") else { return nil }
            return (host, rest.dropFirst(), true)
        }
        let colons = text.filter { $0 == ":" }.count
        if colons == 0 { return (text, nil, false) }
        if colons > 1 { return nil }
        let colon = text.firstIndex(of: ":")!
        return (text[..<colon], text[text.index(after: colon)...], false)
    }

    /// The host and optional port of `host[:port]` / `[v6][:port]`, or errors at the token.
    mutating func hostAndPort(_ text: String, at token: ConfigToken, offset: Int = 0) -> (host: String, port: Int?)? {
        let location = token.location(atOffset: offset)
        guard let (host, portText, bracketed) = self.splitHostAndPort(Substring(text)) else {
            if !text.hasPrefix("["), ConfigValue.isIPAddress(text) {
                self.error("an IPv6 address needs brackets: '[\(text)]:PORT'", at: location)
            } else {
                self.expected("an address like 127.0.0.1:9001, [::1]:9001 or unix:/path", got: text, at: location)
            }
            return nil
        }
        let hostText = String(host)
        if bracketed {
            guard hostText.contains(":"), ConfigValue.isIPAddress(hostText) else {
                self.expected("an IPv6 address in brackets", got: text, at: location)
                return nil
            }
        } else if !ConfigValue.isHostName(hostText) && !ConfigValue.isIPAddress(hostText) {
            self.expected("a host name or IP address", got: hostText, at: location)
            return nil
        }
        var port: Int?
        if let portText {
            let portOffset = offset + text.unicodeScalars.count - portText.unicodeScalars.count
            guard let value = self.value(String(portText), at: token.location(atOffset: portOffset), expected: ConfigValue.expectedPort, ConfigValue.port)
            else { return nil }
            port = value
        }
        return (hostText.lowercased(), port)
    }

    private mutating func balance(
        _ directive: ConfigDirective, _ arguments: [ConfigToken], _ spec: DirectiveSpec
    ) -> ProxyConfiguration.Balance? {
        let mode = arguments[0]
        let needed: Int
        var balance: ProxyConfiguration.Balance?
        switch mode.text {
        case "round-robin":
            needed = 1
            balance = .roundRobin
        case "least-conn":
            needed = 1
            balance = .leastConnections
        case "hash":
            guard arguments.count >= 2 else {
                self.missingArgument(to: directive, spec)
                return nil
            }
            let key = arguments[1]
            switch key.text {
            case "client-ip":
                needed = 2
                balance = .hashClientAddress
            case "header":
                guard arguments.count >= 3 else {
                    self.missingArgument(to: directive, spec)
                    return nil
                }
                needed = 3
                let name = arguments[2]
                if ConfigValue.isHeaderName(name.text) {
                    balance = .hashHeader(name.text)
                } else {
                    self.expected("a header name", got: name.text, at: name.location)
                }
            default:
                self.expected("'client-ip' or 'header NAME'", got: key.text, at: key.location)
                return nil
            }
        default:
            let near = ConfigVocabulary.nearest(to: mode.text, among: ["round-robin", "least-conn", "hash"])
            self.error(
                "expected 'round-robin', 'least-conn' or 'hash', got '\(Self.show(mode.text))'"
                    + (near.map { " (did you mean '\($0)'?)" } ?? ""),
                at: mode.location)
            return nil
        }
        if arguments.count > needed {
            self.extraArgument(arguments[needed], to: spec)
        }
        return balance
    }

    private mutating func healthCheck(_ arguments: [ConfigToken]) -> ProxyConfiguration.HealthCheck? {
        let options = self.options(
            arguments, allowed: ["path", "interval", "timeout", "expect", "fails", "passes"], for: "health-check")
        var check = ProxyConfiguration.HealthCheck()
        var valid = true
        if let option = options["path"] {
            if ConfigValue.isPath(option.value) {
                check.path = option.value
            } else {
                self.expected("a path starting with '/'", got: option.value, at: option.valueLocation)
                valid = false
            }
        }
        if let option = options["interval"] {
            if let interval = self.positiveDuration(option.value, at: option.valueLocation) { check.interval = interval } else { valid = false }
        }
        if let option = options["timeout"] {
            if let timeout = self.positiveDuration(option.value, at: option.valueLocation) { check.timeout = timeout } else { valid = false }
        }
        if let option = options["expect"] {
            if let range = Self.statusRange(option.value) {
                check.expectedStatus = range
            } else {
                self.expected("a status or range like 200 or 200-399", got: option.value, at: option.valueLocation)
                valid = false
            }
        }
        if let option = options["fails"] {
            if let fails = self.count(option.value, at: option.valueLocation, atLeast: 1, what: "a count") { check.fails = fails } else { valid = false }
        }
        if let option = options["passes"] {
            if let passes = self.count(option.value, at: option.valueLocation, atLeast: 1, what: "a count") { check.passes = passes } else { valid = false }
        }
        return valid ? check : nil
    }

    /// `200` or `200-399`, within 100–599.
    static func statusRange(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            guard let status = ConfigValue.status(parts[0]) else { return nil }
            return status...status
        case 2:
            guard let low = ConfigValue.status(parts[0]), let high = ConfigValue.status(parts[1]), low <= high else { return nil }
            return low...high
        default:
            return nil
        }
    }
}
