/// Picks the route for a request: by host first (an exact name, then the longest matching
/// `*.suffix`, then routes for any host), then by the longest path prefix within that host's
/// routes. Built once per configuration; lookups allocate nothing.
struct Router<Target: Sendable>: Sendable {
    struct Entry: Sendable {
        var prefix: String
        var target: Target
    }

    /// Per host, entries sorted longest prefix first.
    private var exact: [String: [Entry]] = [:]
    /// Wildcard suffixes (".example.com"), longest first.
    private var suffixes: [(suffix: String, entries: [Entry])] = []
    private var anyHost: [Entry] = []

    init(_ routes: [(host: ProxyConfiguration.Route.HostMatch, prefix: String, target: Target)]) {
        var suffixTable: [String: [Entry]] = [:]
        for route in routes {
            let entry = Entry(prefix: route.prefix, target: route.target)
            switch route.host {
            case .any: self.anyHost.append(entry)
            case .exact(let host): self.exact[host.lowercased(), default: []].append(entry)
            case .suffix(let suffix): suffixTable[suffix.lowercased(), default: []].append(entry)
            }
        }
        let byLength: (Entry, Entry) -> Bool = { $0.prefix.utf8.count > $1.prefix.utf8.count }
        self.anyHost.sort(by: byLength)
        for key in self.exact.keys { self.exact[key]!.sort(by: byLength) }
        self.suffixes = suffixTable.map { ($0.key, $0.value.sorted(by: byLength)) }
            .sorted { $0.suffix.utf8.count > $1.suffix.utf8.count }
    }

    /// `host` is the request's `Host` without port, lowercased by the caller; `path` the
    /// request target's path (query included is fine: prefixes are compared bytewise).
    func match(host: Substring, path: Substring) -> Target? {
        if !self.exact.isEmpty, let entries = self.exact[String(host)], let hit = Self.longestPrefix(entries, path) {
            return hit
        }
        for (suffix, entries) in self.suffixes where host.hasSuffix(suffix) && host.utf8.count > suffix.utf8.count {
            if let hit = Self.longestPrefix(entries, path) { return hit }
        }
        return Self.longestPrefix(self.anyHost, path)
    }

    /// `match(host:path:)` from the request's `Host` field as it came: the host is taken out of it
    /// (`hostWithoutPort`) only when some route names one. Most configurations route by path
    /// alone, and their requests skip that work.
    func match(hostField: String?, path: Substring) -> Target? {
        if self.exact.isEmpty && self.suffixes.isEmpty { return Self.longestPrefix(self.anyHost, path) }
        return self.match(host: Substring.hostWithoutPort(hostField ?? ""), path: path)
    }

    private static func longestPrefix(_ entries: [Entry], _ path: Substring) -> Target? {
        for entry in entries where Self.hasPrefix(path, entry.prefix) {
            return entry.target
        }
        return nil
    }

    /// `path` starts with `prefix`, compared on their UTF-8 bytes in place (native strings keep them
    /// contiguous), not through the generic walk over two `UTF8View`s.
    private static func hasPrefix(_ path: Substring, _ prefix: String) -> Bool {
        let inPlace = prefix.utf8.withContiguousStorageIfAvailable { wanted in
            path.utf8.withContiguousStorageIfAvailable { bytes in
                guard bytes.count >= wanted.count else { return false }
                for index in 0..<wanted.count where bytes[index] != wanted[index] { return false }
                return true
            }
        }
        if let inPlace, let answer = inPlace { return answer }
        return path.utf8.starts(with: prefix.utf8)
    }
}

extension Substring {
    /// The host of a `Host` header value, without the port, lowercased (RFC 9110 §7.2).
    static func hostWithoutPort(_ value: String) -> Substring {
        // On the bytes: `[`, `]` and `:` are ASCII, so their indices are character boundaries,
        // and nothing here needs the grapheme breaking that Character-level search does.
        let utf8 = value.utf8
        var end = utf8.endIndex
        if utf8.first == UInt8(ascii: "[") {
            if let close = utf8.firstIndex(of: UInt8(ascii: "]")) { end = utf8.index(after: close) }
        } else if let colon = utf8.lastIndex(of: UInt8(ascii: ":")) {
            end = colon
        }
        let host = value[..<end]
        if host.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) {
            return Substring(host.lowercased())
        }
        return host
    }
}
