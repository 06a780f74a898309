/// `cache`, `cache-max-object`, `cache-lock-timeout`, `cache-store-timeout`, `cache-keep-stale`, `purge-allow`.
extension ConfigInterpreter {
    /// Top level: `cache memory [SIZE]`, `cache redis://… [memory-tier=SIZE]`,
    /// `cache redis-cluster://host:port,host:port [memory-tier=SIZE]`, `cache off`.
    /// In a route: `cache off` only.
    mutating func cache(_ directive: ConfigDirective, _ arguments: [ConfigToken], inRoute: Bool = false) {
        let spec = ConfigVocabulary.spec(named: "cache")!
        let mode = arguments[0]
        if mode.text == "off" {
            if arguments.count > 1 { self.extraArgument(arguments[1], to: spec) }
            if !inRoute { self.configuration.cache = nil }
            return
        }
        guard !inRoute else {
            self.error(
                "a route can only turn caching off ('cache off'); the store is chosen by the top-level 'cache' line",
                at: mode.location)
            return
        }
        var cache: ProxyConfiguration.Cache
        switch mode.text {
        case "memory":
            var capacity = 256 << 20
            if arguments.count > 1, let size = self.size(arguments[1], atLeast: 1 << 20) { capacity = size }
            cache = .init(store: .memory(capacity: capacity), location: directive.location)
            self.configuration.cache = cache
            return
        case _ where mode.text.hasPrefix("redis://") || mode.text.hasPrefix("rediss://"):
            guard Self.validRedisURL(mode.text) else {
                self.expected("a Redis URL like redis://127.0.0.1:6379/3", got: mode.text, at: mode.location)
                return
            }
            cache = .init(store: .redis(url: mode.text), location: directive.location)
        case _ where mode.text.hasPrefix("redis-cluster://"):
            let list = mode.text.dropFirst("redis-cluster://".count)
            var urls: [String] = []
            var offset = "redis-cluster://".count
            for node in list.split(separator: ",", omittingEmptySubsequences: false) {
                let url = "redis://\(node)"
                if node.isEmpty || !Self.validRedisURL(url) || node.contains("/") {
                    self.expected("HOST:PORT", got: String(node), at: mode.location(atOffset: offset))
                    return
                }
                urls.append(url)
                offset += node.count + 1
            }
            cache = .init(store: .redisCluster(urls: urls), location: directive.location)
        default:
            self.expected(
                "'off', 'memory [SIZE]', a redis:// URL or redis-cluster://HOST:PORT,HOST:PORT", got: mode.text,
                at: mode.location)
            return
        }
        let options = self.options(arguments.dropFirst(), allowed: ["memory-tier"], for: "cache")
        if let tier = options["memory-tier"] {
            if let size = self.value(tier.value, at: tier.valueLocation, expected: ConfigValue.expectedSize, ConfigValue.size) {
                cache.memoryTier = size
            }
        }
        self.configuration.cache = cache
    }

    /// host[:port][/db] after the scheme, with optional user:password@.
    static func validRedisURL(_ url: String) -> Bool {
        guard let schemeEnd = url.range(of: "://") else { return false }
        var rest = url[schemeEnd.upperBound...]
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        var database: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            database = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if !database.isEmpty, Int(database) == nil { return false }
        var host = rest
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return false }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65535).contains(port) else { return false }
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return false }
        }
        return !host.isEmpty && !host.contains(where: { $0 == " " || $0 == "," })
    }

    mutating func applyCacheSettings() {
        let settings = self.pendingCacheSettings
        self.pendingCacheSettings = []
        for (name, token, location) in settings {
            guard self.configuration.cache != nil else {
                self.error("'\(name)' needs a top-level 'cache' line (like 'cache memory 256m')", at: location)
                continue
            }
            self.cacheSetting(name, token)
        }
    }

    private mutating func cacheSetting(_ name: String, _ token: ConfigToken) {
        guard var cache = self.configuration.cache else { return }
        switch name {
        case "cache-max-object":
            if let size = self.size(token, atLeast: 1) { cache.maxObjectSize = size }
        case "cache-lock-timeout":
            if let duration = self.value(token, expected: ConfigValue.expectedDuration, ConfigValue.duration) {
                cache.lockTimeout = duration
            }
        case "cache-store-timeout":
            if let duration = self.positiveDuration(token.text, at: token.location) { cache.storeTimeout = duration }
        case "cache-keep-stale":
            if let duration = self.value(token, expected: ConfigValue.expectedDuration, ConfigValue.duration) {
                cache.keepStale = duration
            }
        default: preconditionFailure("unknown cache setting \(name)")
        }
        self.configuration.cache = cache
    }

    /// `purge-allow 127.0.0.1 ::1 10.0.0.0/8`: who may send PURGE (default: loopback only).
    mutating func purgeAllow(_ arguments: [ConfigToken]) {
        var ranges: [AddressRange] = self.sawPurgeAllow ? self.configuration.purgeAllow : []
        self.sawPurgeAllow = true
        for token in arguments {
            guard let range = AddressRange(parsing: token.text) else {
                self.expected("an IP address or CIDR block like 10.0.0.0/8", got: token.text, at: token.location)
                continue
            }
            ranges.append(range)
        }
        self.configuration.purgeAllow = ranges
    }
}
