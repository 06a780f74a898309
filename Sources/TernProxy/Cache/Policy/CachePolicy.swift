import NIOHTTP1
import TernClient

/// The HTTP caching rules of a shared cache (RFC 9111, RFC 5861, RFC 9211, with the conditional
/// and range rules of RFC 9110), as pure functions: no IO and no clock; every time is passed in as
/// seconds since the Unix epoch. The proxy's cache layer asks these functions and acts on the answers.
///
/// Header values are read by scanning their UTF-8 bytes; nothing here uses Foundation or regular
/// expressions, and the per-request functions allocate little beyond the values they return.
enum CachePolicy {
    /// RFC 9111 §1.2.2: a delta-seconds value too large to represent counts as 2^31; every parsed
    /// number is capped there so that the arithmetic below cannot overflow.
    static let deltaSecondsCap: Int64 = 2_147_483_648

    /// One day: the most a heuristic freshness lifetime may be (§4.2.2 suggests a bound).
    static let heuristicLimit: Int64 = 86_400

    /// Status codes that are heuristically cacheable (RFC 9110 §15.1).
    static func isHeuristicallyCacheable(_ status: UInt) -> Bool {
        switch status {
        case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501: return true
        default: return false
        }
    }
}

// MARK: - Byte scanning shared by the policy files

extension CachePolicy {
    static let space: UInt8 = 0x20, tab: UInt8 = 0x09, comma: UInt8 = 0x2C, quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C, equals: UInt8 = 0x3D

    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 { ASCII.lower(byte) }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// `text` equals `lowercased` ignoring ASCII case (`lowercased` must be lowercase).
    static func equalsLowercased<Text: StringProtocol>(_ text: Text, _ lowercased: String) -> Bool {
        ASCII.equals(text, lowercased)
    }

    /// The same for a `String`, by pointer: field names are `String`s, and the generic version is
    /// not specialized across the module boundary (a metadata lookup per call, about 2% of a
    /// Redis-tier hit, which works out a stored response's freshness from its fields).
    static func equalsLowercased(_ text: String, _ lowercased: String) -> Bool {
        guard text.utf8.count == lowercased.utf8.count else { return false }
        var text = text
        var lowercased = lowercased
        return text.withUTF8 { name in lowercased.withUTF8 { word in ASCII.equals(name, word) } }
    }

    /// `a` equals `b` ignoring ASCII case.
    static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        for (x, y) in zip(a.utf8, b.utf8) where Self.lower(x) != Self.lower(y) { return false }
        return true
    }

    /// `text` without leading and trailing spaces and tabs.
    static func trimmed(_ text: Substring) -> Substring {
        let utf8 = text.utf8
        var lo = utf8.startIndex, hi = utf8.endIndex
        while lo < hi, utf8[lo] == Self.space || utf8[lo] == Self.tab { lo = utf8.index(after: lo) }
        while hi > lo {
            let before = utf8.index(before: hi)
            guard utf8[before] == Self.space || utf8[before] == Self.tab else { break }
            hi = before
        }
        return text[lo..<hi]
    }

    /// Calls `body` with each non-empty, trimmed member of a comma-separated list; commas inside
    /// quoted strings do not split. Unbalanced quotes run to the end of the value.
    static func forEachListMember(_ value: Substring, _ body: (Substring) -> Void) {
        let utf8 = value.utf8
        var start = utf8.startIndex
        var i = start
        var inQuotes = false, escaped = false
        while i != utf8.endIndex {
            let byte = utf8[i]
            if inQuotes {
                if escaped { escaped = false }
                else if byte == Self.backslash { escaped = true }
                else if byte == Self.quote { inQuotes = false }
            } else if byte == Self.quote {
                inQuotes = true
            } else if byte == Self.comma {
                let member = Self.trimmed(value[start..<i])
                if !member.isEmpty { body(member) }
                start = utf8.index(after: i)
            }
            i = utf8.index(after: i)
        }
        let member = Self.trimmed(value[start..<i])
        if !member.isEmpty { body(member) }
    }

    /// A non-negative decimal integer (delta-seconds, RFC 9111 §1.2.2), optionally quoted;
    /// values over 2^31 become 2^31. Nil when empty or not all digits.
    static func parseDeltaSeconds(_ text: Substring) -> Int64? {
        let text = Self.unquoted(text)
        guard !text.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in text.utf8 {
            guard Self.isDigit(byte) else { return nil }
            if value < Self.deltaSecondsCap { value = value * 10 + Int64(byte &- 0x30) }
        }
        return min(value, Self.deltaSecondsCap)
    }

    /// The inside of a quoted string (escapes left in place), or `text` itself when not quoted.
    static func unquoted(_ text: Substring) -> Substring {
        let utf8 = text.utf8
        guard utf8.count >= 2, utf8.first == Self.quote, utf8.last == Self.quote else { return text }
        return text[utf8.index(after: utf8.startIndex)..<utf8.index(before: utf8.endIndex)]
    }

    /// Splits a directive `name[=value]` into its lowercase-comparable name and its value (unquoted
    /// later by the caller when it wants a number).
    static func splitDirective(_ member: Substring) -> (name: Substring, value: Substring?) {
        let utf8 = member.utf8
        guard let eq = utf8.firstIndex(of: Self.equals) else { return (member, nil) }
        return (Self.trimmed(member[utf8.startIndex..<eq]), Self.trimmed(member[utf8.index(after: eq)...]))
    }

    /// Saturating addition for non-negative times and durations.
    @inline(__always)
    static func add(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? Int64.max : Int64.min) : sum
    }

    /// Saturating subtraction.
    @inline(__always)
    static func subtract(_ a: Int64, _ b: Int64) -> Int64 {
        let (difference, overflow) = a.subtractingReportingOverflow(b)
        return overflow ? (b > 0 ? Int64.min : Int64.max) : difference
    }
}
