/// Where a directive may be written.
enum ConfigContext: Sendable, Hashable, CaseIterable {
    case top, listen, upstream, route, limits

    /// For messages: "in a 'route' block".
    var phrase: String {
        switch self {
        case .top: "at the top level"
        case .listen: "in a 'listen' block"
        case .upstream: "in an 'upstream' block"
        case .route: "in a 'route' block"
        case .limits: "in a 'limits' block"
        }
    }
}

/// What proxy.conf knows: every directive, where it goes, how many arguments it takes and how it
/// is written. One table, so messages, suggestions and docs/proxy-conf.md agree.
struct DirectiveSpec: Sendable {
    enum BlockRule: Sendable { case none, optional, required }

    var name: String
    var contexts: Set<ConfigContext>
    var usage: String
    var arguments: ClosedRange<Int>
    var block: BlockRule = .none
    /// May appear more than once in one block (each adds something).
    var repeatable = false
}

enum ConfigVocabulary {
    static let unbounded = Int.max

    static let directives: [DirectiveSpec] = [
        // top level
        .init(name: "listen", contexts: [.top], usage: "listen tcp:PORT|ssl:PORT:privateKey=FILE:certKey=FILE|unix:PATH [{ … }]",
              arguments: 1...1, block: .optional, repeatable: true),
        .init(name: "workers", contexts: [.top], usage: "workers COUNT|auto", arguments: 1...1),
        .init(name: "upstream", contexts: [.top], usage: "upstream NAME { server … }", arguments: 1...1, block: .required,
              repeatable: true),
        .init(name: "route", contexts: [.top], usage: "route [HOST]/PATH-PREFIX { proxy … }", arguments: 1...1,
              block: .required, repeatable: true),
        .init(name: "error-page", contexts: [.top], usage: "error-page STATUS[,STATUS…] FILE", arguments: 2...unbounded,
              repeatable: true),
        .init(name: "access-log", contexts: [.top], usage: "access-log off|stdout|FILE [format=combined|json]",
              arguments: 1...2),
        .init(name: "limits", contexts: [.top], usage: "limits { max-header-size 32k … }", arguments: 0...0,
              block: .required),
        .init(name: "x-forwarded", contexts: [.top], usage: "x-forwarded on|off", arguments: 1...1),
        .init(name: "via", contexts: [.top], usage: "via on|off", arguments: 1...1),
        .init(name: "shutdown-timeout", contexts: [.top], usage: "shutdown-timeout DURATION", arguments: 1...1),
        .init(name: "cache", contexts: [.top, .route],
              usage: "cache memory [SIZE] | cache redis://HOST:PORT/DB [memory-tier=SIZE] | cache redis-cluster://HOST:PORT,HOST:PORT | cache off",
              arguments: 1...2),
        .init(name: "cache-max-object", contexts: [.top], usage: "cache-max-object SIZE", arguments: 1...1),
        .init(name: "cache-lock-timeout", contexts: [.top], usage: "cache-lock-timeout DURATION", arguments: 1...1),
        .init(name: "cache-store-timeout", contexts: [.top], usage: "cache-store-timeout DURATION", arguments: 1...1),
        .init(name: "cache-keep-stale", contexts: [.top], usage: "cache-keep-stale DURATION", arguments: 1...1),
        .init(name: "purge-allow", contexts: [.top], usage: "purge-allow ADDRESS|CIDR …", arguments: 1...unbounded,
              repeatable: true),
        .init(name: "admin", contexts: [.top], usage: "admin tcp:PORT[:interface=ADDRESS]|unix:PATH", arguments: 1...1),
        .init(name: "admin-allow", contexts: [.top], usage: "admin-allow ADDRESS[/PREFIX] …", arguments: 1...unbounded),
        .init(name: "tls-reload-interval", contexts: [.top], usage: "tls-reload-interval DURATION|off", arguments: 1...1),
        // listen { }
        .init(name: "certificate", contexts: [.listen], usage: "certificate cert=FILE [key=FILE]", arguments: 1...unbounded,
              repeatable: true),
        .init(name: "redirect-https", contexts: [.listen], usage: "redirect-https PORT", arguments: 1...1),
        .init(name: "allow", contexts: [.listen], usage: "allow ADDRESS[/PREFIX] …", arguments: 1...unbounded,
              repeatable: true),
        // upstream { }
        .init(name: "server", contexts: [.upstream],
              usage: "server HOST:PORT|[IPv6]:PORT|unix:PATH [weight=N] [max-fails=N] [fail-timeout=DURATION] [max-conns=N]",
              arguments: 1...unbounded, repeatable: true),
        .init(name: "balance", contexts: [.upstream],
              usage: "balance round-robin|least-conn|hash client-ip|hash header NAME", arguments: 1...3),
        .init(name: "health-check", contexts: [.upstream],
              usage: "health-check [path=/PATH] [interval=DURATION] [timeout=DURATION] [expect=STATUS[-STATUS]] [fails=N] [passes=N]",
              arguments: 0...unbounded),
        .init(name: "scheme", contexts: [.upstream], usage: "scheme http|https", arguments: 1...1),
        .init(name: "ca", contexts: [.upstream], usage: "ca FILE", arguments: 1...1),
        // route { }
        .init(name: "proxy", contexts: [.route], usage: "proxy UPSTREAM|http://HOST:PORT|https://HOST:PORT", arguments: 1...1),
        .init(name: "respond", contexts: [.route], usage: "respond STATUS [BODY]", arguments: 1...2),
        .init(name: "strip-prefix", contexts: [.route], usage: "strip-prefix /PREFIX", arguments: 1...1),
        .init(name: "rewrite-prefix", contexts: [.route], usage: "rewrite-prefix /FROM/ /TO/", arguments: 2...2),
        .init(name: "request-header", contexts: [.route], usage: "request-header set|add NAME VALUE | request-header remove NAME",
              arguments: 2...3, repeatable: true),
        .init(name: "response-header", contexts: [.route],
              usage: "response-header set|add NAME VALUE | response-header remove NAME", arguments: 2...3, repeatable: true),
        .init(name: "host-header", contexts: [.route], usage: "host-header keep|upstream|HOST", arguments: 1...1),
        .init(name: "timeout", contexts: [.route], usage: "timeout connect|read|request DURATION", arguments: 2...2,
              repeatable: true),
        .init(name: "max-body", contexts: [.route, .limits], usage: "max-body SIZE", arguments: 1...1),
        // limits { }
        .init(name: "max-header-size", contexts: [.limits], usage: "max-header-size SIZE", arguments: 1...1),
        .init(name: "max-header-count", contexts: [.limits], usage: "max-header-count COUNT", arguments: 1...1),
        .init(name: "max-uri-length", contexts: [.limits], usage: "max-uri-length SIZE", arguments: 1...1),
        .init(name: "header-timeout", contexts: [.limits], usage: "header-timeout DURATION", arguments: 1...1),
        .init(name: "keepalive-timeout", contexts: [.limits], usage: "keepalive-timeout DURATION", arguments: 1...1),
        .init(name: "keepalive-requests", contexts: [.limits], usage: "keepalive-requests COUNT", arguments: 1...1),
        .init(name: "max-connections", contexts: [.limits], usage: "max-connections COUNT", arguments: 1...1),
        .init(name: "rate-limit", contexts: [.limits], usage: "rate-limit off|RATEr/s|RATEr/m [burst=COUNT] [local]", arguments: 1...3),
    ]

    private static let byName: [String: DirectiveSpec] = Dictionary(
        uniqueKeysWithValues: directives.map { ($0.name, $0) })

    static func spec(named name: String) -> DirectiveSpec? { self.byName[name] }

    /// nginx names an nginx user will reach for, and what tern calls them.
    static let nginxNames: [String: String] = [
        "location": "route",
        "server_name": "route",
        "proxy_pass": "proxy",
        "return": "respond",
        "worker_processes": "workers",
        "client_max_body_size": "max-body",
        "proxy_set_header": "request-header",
        "more_set_headers": "response-header",
        "add_header": "response-header",
        "proxy_connect_timeout": "timeout",
        "proxy_read_timeout": "timeout",
        "proxy_ssl_trusted_certificate": "ca",
        "ssl_certificate": "certificate",
        "large_client_header_buffers": "max-header-size",
        "client_header_timeout": "header-timeout",
        "limit_req": "rate-limit",
        "limit_req_zone": "rate-limit",
        "worker_connections": "max-connections",
        "keepalive_requests": "keepalive-requests",
        "keepalive_timeout": "keepalive-timeout",
        "worker_shutdown_timeout": "shutdown-timeout",
        "least_conn": "balance",
        "ip_hash": "balance",
        "hash": "balance",
        "proxy_cache": "cache",
        "proxy_cache_path": "cache",
        "proxy_cache_lock_timeout": "cache-lock-timeout",
    ]

    /// The closest of `candidates` to `word` by edit distance (with `_` read as `-`, case
    /// ignored), if it is close enough to be a likely typo.
    static func nearest(to word: String, among candidates: some Sequence<String>) -> String? {
        let normalized = Self.normalize(word)
        let allowed = max(1, min(3, normalized.count / 3))
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let other = Self.normalize(candidate)
            // Lengths further apart than the allowance cannot be within it.
            guard abs(other.count - normalized.count) <= allowed else { continue }
            let distance = Self.editDistance(normalized, other)
            if distance <= allowed, distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best?.name
    }

    private static func normalize(_ word: String) -> [UInt8] {
        word.utf8.map { byte in
            if byte == UInt8(ascii: "_") { return UInt8(ascii: "-") }
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { return byte + 32 }
            return byte
        }
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
    /// neighbours each cost one. Words longer than 64 bytes are not typos of a directive.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.count > 64 || b.count > 64 { return .max }
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
