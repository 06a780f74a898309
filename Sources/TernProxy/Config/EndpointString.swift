/// A Twisted endpoint description (`endpoints.serverFromString`) taken apart, before it means
/// anything: `ssl:8443:privateKey=key.pem:certKey=cert.pem` → type `ssl`, positional `8443`,
/// keywords `privateKey` and `certKey`.
///
/// Twisted's rules: `:` separates parts, `=` splits the first of them into key and value, a
/// backslash makes the next character literal (`interface=\:\:1`). Two allowances for people who
/// do not write Twisted every day: an `interface=` value may be a bare IPv6 address (`::1`, the
/// colons taken back together as long as they still make an address) or in brackets (`[::1]`).
struct EndpointString: Sendable, Equatable {
    /// Some text from the description and how many characters into it that text starts (for
    /// error columns).
    struct Part: Sendable, Equatable {
        var text: String
        var offset: Int
    }

    struct Keyword: Sendable, Equatable {
        var key: Part
        var value: Part
    }

    var type: Part
    var positional: [Part] = []
    var keywords: [Keyword] = []

    init(parsing description: String) {
        var segments = Self.split(description)
        let first = segments.removeFirst()
        self.type = Part(text: first.text, offset: first.offset)
        var index = 0
        while index < segments.count {
            let segment = segments[index]
            index += 1
            guard let equals = Self.separator(in: segment.raw) else {
                self.positional.append(Part(text: segment.text, offset: segment.offset))
                continue
            }
            let keyRaw = segment.raw[..<equals]
            let valueRaw = segment.raw[segment.raw.index(after: equals)...]
            let key = Part(text: Self.unescape(keyRaw), offset: segment.offset)
            var value = Part(text: Self.unescape(valueRaw), offset: segment.offset + keyRaw.unicodeScalars.count + 1)
            if key.text == "interface" {
                index = Self.joinAddress(&value, segments: segments, from: index)
            }
            self.keywords.append(Keyword(key: key, value: value))
        }
    }

    /// Glues `interface=` + following segments back into an IPv6 address: the longest run of
    /// segments without `=` that reads as an address, or up to a closing `]`.
    private static func joinAddress(_ value: inout Part, segments: [Segment], from start: Int) -> Int {
        if value.text.hasPrefix("[") {
            var text = value.text
            var index = start
            while !text.contains("]"), index < segments.count, Self.separator(in: segments[index].raw) == nil {
                text += ":" + segments[index].text
                index += 1
            }
            if text.hasSuffix("]") {
                value.text = String(text.dropFirst().dropLast())
                return index
            }
            return start
        }
        if ConfigValue.isIPAddress(value.text) { return start }
        var text = value.text
        var best: (text: String, next: Int)?
        var index = start
        while index < segments.count, Self.separator(in: segments[index].raw) == nil, index - start < 8 {
            text += ":" + segments[index].text
            index += 1
            if ConfigValue.isIPAddress(text) { best = (text, index) }
        }
        guard let best else { return start }
        value.text = best.text
        return best.next
    }

    private struct Segment {
        /// As written, escapes included (to find the unescaped `=`).
        var raw: Substring
        var text: String
        var offset: Int
    }

    /// Splits at unescaped colons.
    private static func split(_ description: String) -> [Segment] {
        var segments: [Segment] = []
        var start = description.startIndex
        var startOffset = 0
        var offset = 0
        var escaped = false
        var index = description.startIndex
        while index < description.endIndex {
            let character = description[index]
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" {
                let raw = description[start..<index]
                segments.append(Segment(raw: raw, text: Self.unescape(raw), offset: startOffset))
                start = description.index(after: index)
                startOffset = offset + 1
            }
            offset += character.unicodeScalars.count
            index = description.index(after: index)
        }
        let raw = description[start...]
        segments.append(Segment(raw: raw, text: Self.unescape(raw), offset: startOffset))
        return segments
    }

    /// The first `=` that is not escaped.
    private static func separator(in raw: Substring) -> Substring.Index? {
        var escaped = false
        var index = raw.startIndex
        while index < raw.endIndex {
            let character = raw[index]
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "=" {
                return index
            }
            index = raw.index(after: index)
        }
        return nil
    }

    private static func unescape(_ raw: Substring) -> String {
        guard raw.contains("\\") else { return String(raw) }
        var result = ""
        var escaped = false
        for character in raw {
            if escaped {
                result.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                result.append(character)
            }
        }
        if escaped { result.append("\\") }
        return result
    }
}
