import NIOHTTP1
import TernClient

/// Field lines the cache reads values from: an `HTTPHeaders`, or a request head's lines still as
/// the bytes they came in (`HTTP1RawFields`). A cache hit on a plain request reads its `Host` and
/// the fields its stored response varies on; read from the bytes, only those become `String`s,
/// where reading the head into `HTTPHeaders` first makes two `String`s of every field (and an
/// allocation for each name or value longer than 15 bytes, as browsers' `User-Agent`, `Accept`
/// and `Cookie` values are).
protocol FieldLines {
    /// Calls `body` with the value of each line whose name equals `name` (lowercase) ignoring
    /// ASCII case, in order, while it returns true.
    func forEachValue(named name: String, _ body: (String) -> Bool)
}

extension HTTPHeaders: FieldLines {
    func forEachValue(named name: String, _ body: (String) -> Bool) {
        for (fieldName, value) in self where CachePolicy.equalsLowercased(fieldName, name) {
            guard body(value) else { return }
        }
    }
}

extension HTTP1RawFields: FieldLines {}

/// A request's fields as the cache reads them: its lines while nothing has read them into its
/// head's `HTTPHeaders` (`ProxyHandler.cacheFields`), else those.
enum RequestFieldLines: FieldLines {
    case headers(HTTPHeaders)
    case lines(HTTP1RawFields)

    func forEachValue(named name: String, _ body: (String) -> Bool) {
        switch self {
        case .headers(let headers): headers.forEachValue(named: name, body)
        case .lines(let lines): lines.forEachValue(named: name, body)
        }
    }

    /// Which cache-relevant fields the request has, from the names alone.
    var traits: CachePolicy.RequestTraits {
        switch self {
        case .headers(let headers): CachePolicy.RequestTraits(headers)
        case .lines(let lines): CachePolicy.RequestTraits(lines)
        }
    }
}

extension CachePolicy {
    /// Calls `body` with each list member of every field line named `name` (lowercase).
    /// Returns whether at least one such field line exists.
    @discardableResult
    static func forEachListMember(in fields: some FieldLines, named name: String, _ body: (Substring) -> Void) -> Bool {
        var found = false
        fields.forEachValue(named: name) { value in
            found = true
            Self.forEachListMember(Substring(value), body)
            return true
        }
        return found
    }

    /// The first field line named `name` (lowercase), trimmed.
    static func firstValue(_ fields: some FieldLines, _ name: String) -> Substring? {
        var first: Substring?
        fields.forEachValue(named: name) { value in
            first = Self.trimmed(Substring(value))
            return false
        }
        return first
    }

    /// How many field lines are named `name` (lowercase).
    static func count(_ fields: some FieldLines, _ name: String) -> Int {
        var n = 0
        fields.forEachValue(named: name) { _ in
            n += 1
            return true
        }
        return n
    }

    /// Whether a field line is named `name` (lowercase).
    static func has(_ fields: some FieldLines, _ name: String) -> Bool {
        var found = false
        fields.forEachValue(named: name) { _ in
            found = true
            return false
        }
        return found
    }
}
