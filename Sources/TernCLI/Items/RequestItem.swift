/// One httpie-style request item from the command line, such as `Accept:application/json`,
/// `q==swift`, `name=Ada`, `age:=36` or `photo@me.png`.
///
/// Parsing is pure: items that name a file keep the path; the file is read when the request is built.
public struct RequestItem: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// `Name:value` — a request header.
        case header
        /// `Name;` — a header sent with an empty value.
        case emptyHeader
        /// `Name:@file` — a header whose value is read from a file.
        case headerFromFile
        /// `name==value` — a query-string parameter.
        case query
        /// `name==@file` — a query parameter whose value is read from a file.
        case queryFromFile
        /// `field=value` — a data field (a JSON string, or a form field under `--form`).
        case dataString
        /// `field=@file` — a data field whose string value is read from a file.
        case dataStringFromFile
        /// `field:=json` — a raw JSON value.
        case rawJSON
        /// `field:=@file` — a raw JSON value read from a file.
        case rawJSONFromFile
        /// `field@file` — a file upload (makes the body multipart/form-data).
        case fileUpload
    }

    public var kind: Kind
    public var name: String
    public var value: String
    /// For `field@file;type=image/png`: the explicit media type of the upload.
    public var mediaType: String?

    public init(kind: Kind, name: String, value: String, mediaType: String? = nil) {
        self.kind = kind
        self.name = name
        self.value = value
        self.mediaType = mediaType
    }

    public var isData: Bool {
        switch self.kind {
        case .dataString, .dataStringFromFile, .rawJSON, .rawJSONFromFile, .fileUpload: return true
        default: return false
        }
    }
}

public struct RequestItemError: Error, Hashable, Sendable, CustomStringConvertible {
    public var item: String
    public var reason: String
    public init(item: String, reason: String) {
        self.item = item
        self.reason = reason
    }
    public var description: String { "invalid request item '\(self.item)': \(self.reason)" }
}

extension RequestItem {
    /// Separators, longest first so that at one position the longest one wins (httpie's rule).
    private static let separators: [(String, Kind)] = [
        (":=@", .rawJSONFromFile),
        ("==@", .queryFromFile),
        (":@", .headerFromFile),
        ("=@", .dataStringFromFile),
        (":=", .rawJSON),
        ("==", .query),
        ("=", .dataString),
        (":", .header),
        (";", .emptyHeader),
        ("@", .fileUpload),
    ]

    /// Whether `argument` parses as a request item (used to tell items from URLs).
    public static func looksLikeItem(_ argument: String) -> Bool {
        (try? RequestItem.parse(argument)) != nil
    }

    /// Parses one item. The earliest unescaped separator wins; at one position, the longest.
    /// A backslash escapes the next character in the name (`foo\=bar=baz` names the field `foo=bar`).
    public static func parse(_ argument: String) throws(RequestItemError) -> RequestItem {
        let chars = Array(argument.unicodeScalars)
        var name = String.UnicodeScalarView()
        var index = 0
        while index < chars.count {
            let c = chars[index]
            if c == "\\" && index + 1 < chars.count {
                name.append(chars[index + 1])
                index += 2
                continue
            }
            for (separator, kind) in Self.separators where Self.matches(chars, at: index, separator) {
                let rest = String(String.UnicodeScalarView(chars[(index + separator.unicodeScalars.count)...]))
                return try Self.make(argument, kind: kind, name: String(name), rest: rest)
            }
            name.append(c)
            index += 1
        }
        throw RequestItemError(item: argument, reason: "no separator (expected one of : == = := @ =@ :=@ ;)")
    }

    private static func matches(_ chars: [Unicode.Scalar], at index: Int, _ separator: String) -> Bool {
        var i = index
        for s in separator.unicodeScalars {
            guard i < chars.count, chars[i] == s else { return false }
            i += 1
        }
        return true
    }

    private static func make(_ argument: String, kind: Kind, name: String, rest: String) throws(RequestItemError) -> RequestItem {
        switch kind {
        case .header, .headerFromFile, .emptyHeader:
            guard !name.isEmpty else { throw RequestItemError(item: argument, reason: "empty header name") }
            guard Self.isToken(name) else {
                throw RequestItemError(item: argument, reason: "'\(name)' is not a valid header name")
            }
            if kind == .emptyHeader && !rest.isEmpty {
                throw RequestItemError(item: argument, reason: "'Name;' takes no value (use 'Name:value')")
            }
            return RequestItem(kind: kind, name: name, value: rest)
        case .fileUpload:
            guard !name.isEmpty else { throw RequestItemError(item: argument, reason: "empty field name") }
            var path = rest
            var mediaType: String?
            if let range = rest.range(of: ";type=", options: .backwards) {
                path = String(rest[..<range.lowerBound])
                mediaType = String(rest[range.upperBound...])
            }
            guard !path.isEmpty else { throw RequestItemError(item: argument, reason: "no file path after '@'") }
            return RequestItem(kind: kind, name: name, value: path, mediaType: mediaType)
        case .query, .queryFromFile:
            guard !name.isEmpty else { throw RequestItemError(item: argument, reason: "empty parameter name") }
            return RequestItem(kind: kind, name: name, value: rest)
        case .dataString, .dataStringFromFile, .rawJSON, .rawJSONFromFile:
            guard !name.isEmpty else { throw RequestItemError(item: argument, reason: "empty field name") }
            if kind == .rawJSON && JSONValidator.validate(Array(rest.utf8)) == false {
                throw RequestItemError(item: argument, reason: "'\(rest)' is not valid JSON")
            }
            return RequestItem(kind: kind, name: name, value: rest)
        }
    }

    /// RFC 9110 token characters.
    static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { b in
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return "!#$%&'*+-.^_`|~".utf8.contains(b)
            }
        }
    }
}
