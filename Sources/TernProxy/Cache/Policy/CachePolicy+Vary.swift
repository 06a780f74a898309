import NIOHTTP1

extension CachePolicy {
    /// The field names `Vary` lists (RFC 9111 §4.1): lowercased, in order, duplicates dropped;
    /// [] without `Vary`; nil when it contains `*` (the response can never be reused).
    static func varyFields(_ responseHeaders: HTTPHeaders) -> [String]? {
        var fields: [String] = []
        var wildcard = false
        Self.forEachListMember(in: responseHeaders, named: "vary") { member in
            if member == "*" {
                wildcard = true
                return
            }
            let name = member.lowercased()
            if !fields.contains(name) { fields.append(name) }
        }
        return wildcard ? nil : fields
    }

    /// The request's normalized value of each field (see `normalizedValue`), nil when the
    /// request does not send it.
    static func varyValues(fields: [String], request: some FieldLines) -> [VaryValue] {
        fields.map { VaryValue(name: $0, value: Self.normalizedValue(of: $0, in: request)) }
    }

    /// All field lines named `name` combined with ", ", each trimmed, runs of spaces and tabs
    /// collapsed to one space and the whitespace around commas normalized to ", " (RFC 9111 §4.1
    /// allows both). Nil when the request has no such field.
    static func normalizedValue(of name: String, in fields: some FieldLines) -> String? {
        var result: String? = nil
        let name = name.utf8.contains(where: { $0 &- 0x41 < 26 }) ? name.lowercased() : name
        fields.forEachValue(named: name) { value in
            if result == nil {
                result = ""
                result!.reserveCapacity(value.utf8.count)
            } else {
                result!.append(",")  // the next value's first character adds the space
            }
            Self.appendNormalized(value, to: &result!)
            return true
        }
        return result
    }

    private static func appendNormalized(_ value: String, to result: inout String) {
        var pendingSpace = false
        var afterComma = !result.isEmpty  // a joined line starts after ","
        var wroteAny = false
        for scalar in value.unicodeScalars {
            switch scalar {
            case " ", "\t":
                pendingSpace = true
            case ",":
                result.unicodeScalars.append(",")
                pendingSpace = false
                afterComma = true
                wroteAny = true
            default:
                if afterComma {
                    result.unicodeScalars.append(" ")
                } else if pendingSpace && wroteAny {
                    result.unicodeScalars.append(" ")
                }
                result.unicodeScalars.append(scalar)
                pendingSpace = false
                afterComma = false
                wroteAny = true
            }
        }
    }

    /// The secondary key: "" without `Vary`, else 32 hex digits of FNV over a length-prefixed
    /// encoding of the names and values (so no two different lists share an encoding).
    static func secondaryKey(_ values: [VaryValue]) -> String {
        guard !values.isEmpty else { return "" }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.reduce(0) { $0 + $1.name.utf8.count + ($1.value?.utf8.count ?? 0) + 24 })
        func appendLength(_ n: Int) {
            bytes.append(contentsOf: String(n).utf8)
            bytes.append(0x3A)
        }
        for value in values {
            let name = value.name.lowercased()
            appendLength(name.utf8.count)
            bytes.append(contentsOf: name.utf8)
            if let text = value.value {
                bytes.append(0x3D)
                appendLength(text.utf8.count)
                bytes.append(contentsOf: text.utf8)
            } else {
                bytes.append(0x2D)
            }
        }
        return CacheKey.fnv128Hex(bytes)
    }

    /// §4.1: does the variant stored with `stored` match the request? Each named field must be
    /// absent from both or present in both with the same normalized value.
    static func matches(_ stored: [VaryValue], request: some FieldLines) -> Bool {
        for entry in stored where Self.normalizedValue(of: entry.name, in: request) != entry.value {
            return false
        }
        return true
    }
}
