import NIOHTTP1

extension CachePolicy {
    /// How to answer a GET from a stored complete body.
    enum RangeAnswer: Equatable, Sendable {
        /// The whole body (200): no `Range`, or one the cache may ignore.
        case full
        /// 206 with `Content-Range: bytes start-end/length`; `end` is inclusive.
        case partial(start: Int, end: Int)
        /// 416 with `Content-Range: bytes */length`.
        case unsatisfiable
    }

    /// RFC 9110 §14 for a GET answered from a stored complete body of `length` bytes. One byte
    /// range (`bytes=a-b`, `a-`, `-n`) → partial, the end clamped to the body; a range starting
    /// at or after the end, or `-0`, → unsatisfiable. Ignored (full): other methods, several
    /// ranges, other units, syntax errors (including `b < a`), several `Range` lines, and an
    /// `If-Range` that does not match (strong `ETag` comparison, or exactly the stored
    /// `Last-Modified`).
    static func range(method: HTTPMethod, request: some FieldLines, length: Int, stored: HTTPHeaders) -> RangeAnswer {
        guard method.isGET, Self.count(request, "range") == 1, let value = Self.firstValue(request, "range") else {
            return .full
        }
        if let ifRange = Self.firstValue(request, "if-range"), !Self.ifRangeMatches(ifRange, stored: stored) {
            return .full
        }
        // The unit, then "=".
        let utf8 = value.utf8
        guard let eq = utf8.firstIndex(of: Self.equals),
            Self.equalsLowercased(Self.trimmed(value[utf8.startIndex..<eq]), "bytes")
        else { return .full }
        var spec: Substring? = nil
        var members = 0
        Self.forEachListMember(value[utf8.index(after: eq)...]) { member in
            members += 1
            spec = member
        }
        guard members == 1, let spec else { return .full }
        let specBytes = spec.utf8
        guard let dash = specBytes.firstIndex(of: 0x2D) else { return .full }
        let first = Self.trimmed(spec[specBytes.startIndex..<dash])
        let last = Self.trimmed(spec[specBytes.index(after: dash)...])
        let length = max(0, length)
        if first.isEmpty {
            // A suffix range: the last n bytes.
            guard let n = Self.parsePosition(last) else { return .full }
            guard n > 0, length > 0 else { return .unsatisfiable }
            return .partial(start: length - min(n, length), end: length - 1)
        }
        guard let start = Self.parsePosition(first) else { return .full }
        var end = Int.max
        if !last.isEmpty {
            guard let parsed = Self.parsePosition(last), parsed >= start else { return .full }
            end = parsed
        }
        guard start < length else { return .unsatisfiable }
        return .partial(start: start, end: min(end, length - 1))
    }

    /// The `Content-Range` value for an answer about a body of `length` bytes: `bytes a-b/length`
    /// for a 206, `bytes */length` for a 416, nil for a full response.
    static func contentRange(_ answer: RangeAnswer, length: Int) -> String? {
        switch answer {
        case .full: return nil
        case .partial(let start, let end): return "bytes \(start)-\(end)/\(length)"
        case .unsatisfiable: return "bytes */\(length)"
        }
    }

    /// A byte position: digits only, saturating at `Int.max`.
    private static func parsePosition(_ text: Substring) -> Int? {
        guard !text.isEmpty else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard Self.isDigit(byte) else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(byte &- 0x30))
            value = o1 || o2 ? Int.max : sum
        }
        return value
    }

    /// RFC 9110 §13.1.5: an entity tag must match the stored `ETag` strongly; a date must equal the
    /// stored `Last-Modified` exactly.
    private static func ifRangeMatches(_ condition: Substring, stored: HTTPHeaders) -> Bool {
        if condition.hasPrefix("\"") || condition.hasPrefix("W/") {
            guard let tag = EntityTag(condition), let etag = Self.firstValue(stored, "etag").flatMap(EntityTag.init) else {
                return false
            }
            return tag.strongMatches(etag)
        }
        guard let date = Self.parseHTTPDate(condition),
            let lastModified = Self.firstValue(stored, "last-modified").flatMap(Self.parseHTTPDate)
        else { return false }
        return date == lastModified
    }
}
