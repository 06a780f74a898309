import NIOSSL

/// Reads Redis URLs (the forms of the IANA `redis` and `rediss` schemes, plus Unix sockets).
enum RedisURLParser {
    static func parse(_ url: String) throws(RedisError) -> RedisConfiguration {
        if url.hasPrefix("/") {
            return RedisConfiguration(endpoints: [.unixSocket(path: url)])
        }
        guard let schemeEnd = url.firstRange(of: "://") else { throw invalid(url, "no scheme") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        var rest = url[schemeEnd.upperBound...]
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        if rest.contains("#") { throw invalid(url, "fragments are not allowed") }

        var configuration: RedisConfiguration
        switch scheme {
        case "unix", "redis+unix", "redis-socket":
            var authority: Substring = ""
            var path = rest
            if let slash = rest.firstIndex(of: "/") {
                authority = rest[..<slash]
                path = rest[slash...]
            }
            guard path.count > 1 else { throw invalid(url, "no socket path") }
            configuration = RedisConfiguration(endpoints: [.unixSocket(path: String(path))])
            if let at = authority.lastIndex(of: "@") {
                try credentials(authority[..<at], into: &configuration, url: url)
            }
        case "redis", "rediss":
            var authority = rest
            var path: Substring = ""
            if let slash = rest.firstIndex(of: "/") {
                authority = rest[..<slash]
                path = rest[rest.index(after: slash)...]
            }
            var hostPort = authority
            if let at = authority.lastIndex(of: "@") {
                hostPort = authority[authority.index(after: at)...]
            }
            let endpoint = try endpoint(hostPort, url: url)
            configuration = RedisConfiguration(endpoints: [endpoint])
            if let at = authority.lastIndex(of: "@") {
                try credentials(authority[..<at], into: &configuration, url: url)
            }
            if !path.isEmpty {
                guard let db = Int(path), db >= 0 else { throw invalid(url, "the path must be a database number") }
                configuration.database = db
            }
            if scheme == "rediss" {
                configuration.tls = TLSConfiguration.makeClientConfiguration()
            }
        default:
            throw invalid(url, "unknown scheme \(scheme)")
        }

        for item in query.split(separator: "&") {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0]
            let value = parts.count > 1 ? percentDecoded(parts[1]) : ""
            switch name {
            case "db", "database":
                guard let db = Int(value), db >= 0 else { throw invalid(url, "db must be a number") }
                configuration.database = db
            case "name", "client_name", "clientName":
                configuration.clientName = value
            case "protocol":
                guard let version = Int(value).flatMap(RedisConfiguration.ProtocolVersion.init(rawValue:)) else {
                    throw invalid(url, "protocol must be 2 or 3")
                }
                configuration.protocolVersion = version
            case "password":
                configuration.password = value
            case "user", "username":
                configuration.username = value
            default:
                throw invalid(url, "unknown parameter \(name)")
            }
        }
        return configuration
    }

    private static func credentials(_ userInfo: Substring, into configuration: inout RedisConfiguration, url: String) throws(RedisError) {
        guard !userInfo.isEmpty else { return }
        if let colon = userInfo.firstIndex(of: ":") {
            let user = percentDecoded(userInfo[..<colon])
            configuration.username = user.isEmpty ? nil : user
            configuration.password = percentDecoded(userInfo[userInfo.index(after: colon)...])
        } else {
            // `redis://secret@host`: a lone user-info part is the password, as redis-cli reads it.
            configuration.password = percentDecoded(userInfo)
        }
    }

    private static func endpoint(_ hostPort: Substring, url: String) throws(RedisError) -> RedisEndpoint {
        guard !hostPort.isEmpty else { throw invalid(url, "no host") }
        if hostPort.hasPrefix("[") {
            if hostPort.hasSuffix("]") { return .tcp(host: String(hostPort.dropFirst().dropLast()), port: 6379) }
            guard let endpoint = RedisEndpoint(hostPort: hostPort) else { throw invalid(url, "bad host or port") }
            return endpoint
        }
        if hostPort.contains(":") {
            guard let endpoint = RedisEndpoint(hostPort: hostPort) else { throw invalid(url, "bad port") }
            return endpoint
        }
        return .tcp(host: String(hostPort), port: 6379)
    }

    private static func percentDecoded(_ text: Substring) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func invalid(_ url: String, _ why: String) -> RedisError {
        // The URL may carry a password: name the problem, not the URL.
        RedisError(code: .invalidConfiguration, message: "invalid Redis URL: \(why)")
    }
}
