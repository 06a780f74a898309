/// The positional arguments `[METHOD] URL [URL…] [ITEM…]` split into their parts.
public struct CommandLineTarget: Hashable, Sendable {
    public var method: String?
    public var urls: [String]
    public var items: [RequestItem]

    public init(method: String?, urls: [String], items: [RequestItem]) {
        self.method = method
        self.urls = urls
        self.items = items
    }

    static let knownMethods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "QUERY",
    ]

    /// Splits positional arguments.
    ///
    /// - The first argument is a method when it is all letters and either upper case, a known method in
    ///   any case, or followed by something that is not a request item (`tern PURGE example.org`).
    ///   `tern example.org foo:bar` therefore reads `example.org` as the URL, as httpie does.
    /// - The next argument is always a URL.
    /// - Later arguments are URLs when they carry an explicit `http(s)://` (or `+unix`) scheme or use
    ///   the `:port/path` shorthand; everything else is a request item.
    public static func parse(_ arguments: [String]) throws(RequestItemError) -> CommandLineTarget {
        guard !arguments.isEmpty else { throw RequestItemError(item: "", reason: "missing URL") }
        var rest = arguments[...]
        var method: String?
        if arguments.count >= 2, let first = arguments.first, Self.isMethodToken(first) {
            let isMethod = first == first.uppercased()
                || Self.knownMethods.contains(first.uppercased())
                || !RequestItem.looksLikeItem(arguments[1])
            if isMethod {
                method = first.uppercased()
                rest = rest.dropFirst()
            }
        }
        var urls = [rest.removeFirst()]
        var items: [RequestItem] = []
        for argument in rest {
            if Self.isExplicitURL(argument) {
                urls.append(argument)
            } else {
                items.append(try RequestItem.parse(argument))
            }
        }
        return CommandLineTarget(method: method, urls: urls, items: items)
    }

    static func isMethodToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }
    }

    /// `http://…`, `https://…`, `http+unix://…`, `https+unix://…`, or the `:8080/path` shorthand.
    static func isExplicitURL(_ s: String) -> Bool {
        let lower = s.lowercased()
        for scheme in ["http://", "https://", "http+unix://", "https+unix://"] where lower.hasPrefix(scheme) {
            return true
        }
        if s == ":" { return true }
        if s.hasPrefix(":"), let next = s.dropFirst().first, next == "/" || next.isNumber { return true }
        return false
    }
}
