/// The top level of proxy.conf and the `limits { }` block: the directives that set one value each.
extension ConfigInterpreter {
    mutating func topLevel(_ directives: [ConfigDirective]) {
        var seen: [String: SourceLocation] = [:]
        for directive in directives {
            if directive.name.text == "listen" { self.sawListen = true }
            guard let (spec, arguments) = self.accept(directive, in: .top, seen: &seen) else { continue }
            switch spec.name {
            case "listen": self.listen(directive, arguments[0])
            case "upstream": self.upstream(directive, arguments[0])
            case "route": self.route(directive, arguments[0])
            case "workers": self.workers(arguments[0])
            case "error-page": self.errorPage(arguments)
            case "access-log": self.accessLog(arguments)
            case "limits": self.limits(directive.block)
            case "x-forwarded":
                if let on = self.value(arguments[0], expected: ConfigValue.expectedOnOff, ConfigValue.onOff) {
                    self.configuration.forwarding.xForwarded = on
                }
            case "via":
                if let on = self.value(arguments[0], expected: ConfigValue.expectedOnOff, ConfigValue.onOff) {
                    self.configuration.forwarding.via = on
                }
            case "shutdown-timeout":
                if let timeout = self.value(arguments[0], expected: ConfigValue.expectedDuration, ConfigValue.duration) {
                    self.configuration.shutdownTimeout = timeout
                }
            case "cache": self.cache(directive, arguments)
            case "cache-max-object", "cache-lock-timeout", "cache-store-timeout", "cache-keep-stale":
                self.pendingCacheSettings.append((spec.name, arguments[0], directive.location))
            case "purge-allow": self.purgeAllow(arguments)
            case "admin": self.admin(directive, arguments[0])
            case "admin-allow": self.adminAllow(arguments)
            case "tls-reload-interval": self.certificateReloadInterval(arguments[0])
            default: preconditionFailure("'\(spec.name)' is in the vocabulary at the top level but has no handler")
            }
        }
    }

    static let maximumWorkers = 1024

    private mutating func workers(_ token: ConfigToken) {
        if token.text == "auto" {
            self.configuration.workers = nil
            return
        }
        guard let count = ConfigValue.integer(token.text), (1...Self.maximumWorkers).contains(count) else {
            self.expected("a number of workers from 1 to \(Self.maximumWorkers), or 'auto'", got: token.text, at: token.location)
            return
        }
        self.configuration.workers = count
    }

    /// `error-page 502 FILE`, `error-page 502,503,504 FILE`, and nginx's `error-page 502 503 FILE`.
    private mutating func errorPage(_ arguments: [ConfigToken]) {
        let fileToken = arguments[arguments.count - 1]
        let path = self.filePath(fileToken.text, at: fileToken.location)
        for token in arguments.dropLast() {
            var offset = 0
            for part in token.text.split(separator: ",", omittingEmptySubsequences: false) {
                let location = token.location(atOffset: offset)
                offset += part.unicodeScalars.count + 1
                guard let status = ConfigValue.integer(part), (400...599).contains(status), part.count == 3 else {
                    self.expected("an error status from 400 to 599", got: String(part), at: location)
                    continue
                }
                if let first = self.errorPageLocations[status] {
                    self.error("duplicate error page for \(status) (first at \(first))", at: location)
                    continue
                }
                self.errorPageLocations[status] = location
                if let path { self.configuration.errorPages[status] = path }
            }
        }
    }

    private mutating func accessLog(_ arguments: [ConfigToken]) {
        let target = arguments[0]
        var log = ProxyConfiguration.AccessLog()
        switch target.text {
        case "off": log.path = nil
        case "stdout", "-": log.path = "stdout"
        case "stderr":
            self.expected("'off', 'stdout' or a file path (the error log has standard error)", got: target.text, at: target.location)
        default:
            if target.text.hasPrefix("format=") {
                self.expected("'off', 'stdout' or a file path before the format", got: target.text, at: target.location)
                return
            }
            log.path = self.filePath(target.text, at: target.location)
        }
        let options = self.options(arguments.dropFirst(), allowed: ["format"], for: "access-log")
        if let format = options["format"] {
            switch format.value {
            case "combined": log.format = .combined
            case "json": log.format = .json
            default: self.expected("'combined' or 'json'", got: format.value, at: format.valueLocation)
            }
        }
        self.configuration.accessLog = log
    }

    private mutating func limits(_ block: ConfigBlock?) {
        var seen: [String: SourceLocation] = [:]
        var limits = self.configuration.limits
        for directive in block?.directives ?? [] {
            guard let (spec, arguments) = self.accept(directive, in: .limits, seen: &seen) else { continue }
            let token = arguments[0]
            switch spec.name {
            case "max-header-size":
                if let size = self.size(token, atLeast: 1) { limits.maxHeaderSize = size }
            case "max-header-count":
                if let count = self.count(token.text, at: token.location, atLeast: 1, what: "a count") {
                    limits.maxHeaderCount = count
                }
            case "max-uri-length":
                if let size = self.size(token, atLeast: 1) { limits.maxURILength = size }
            case "max-body":
                if let size = self.bodySize(token) { limits.maxBodySize = size }
            case "header-timeout":
                if let duration = self.positiveDuration(token.text, at: token.location) { limits.headerTimeout = duration }
            case "keepalive-timeout":
                // 0 turns keep-alive off, as in nginx.
                if let duration = self.value(token, expected: ConfigValue.expectedDuration, ConfigValue.duration) {
                    limits.keepAliveTimeout = duration
                }
            case "keepalive-requests":
                if let count = self.count(token.text, at: token.location, atLeast: 1, what: "a count") {
                    limits.maxRequestsPerConnection = count
                }
            case "max-connections":
                if let count = self.count(token.text, at: token.location, atLeast: 1, what: "a count") {
                    limits.maxConnections = count
                }
            case "rate-limit":
                limits.rateLimit = self.rateLimit(arguments, spec: spec)
            default: preconditionFailure("'\(spec.name)' is in the vocabulary in limits but has no handler")
            }
        }
        self.configuration.limits = limits
    }

    mutating func size(_ token: ConfigToken, atLeast minimum: Int) -> Int? {
        guard let size = self.value(token, expected: ConfigValue.expectedSize, ConfigValue.size) else { return nil }
        guard size >= minimum else {
            self.expected("a size of at least \(minimum)", got: token.text, at: token.location)
            return nil
        }
        return size
    }

    /// `max-body`: `0` means no limit, as `client_max_body_size 0` does in nginx.
    mutating func bodySize(_ token: ConfigToken) -> Int? {
        guard let size = self.value(token, expected: ConfigValue.expectedSize, ConfigValue.size) else { return nil }
        return size == 0 ? Int.max : size
    }
}
