import Foundation

/// How data items become a body.
public enum BodyEncoding: Sendable, Hashable {
    /// `{"field": "value", "n": 1}` (the default)
    case json
    /// `--form`: application/x-www-form-urlencoded, or multipart/form-data when a file is uploaded
    case form
    /// `--multipart`: always multipart/form-data
    case multipart
}

/// What the request items say about the request: headers, query, body. Built without I/O
/// except reading the files that items name (through `readFile`, so tests can stub it).
public struct RequestPlan: Sendable {
    /// Headers in command-line order. `nil` value: `Name:` — drop that default header.
    public var headers: [(name: String, value: String?)] = []
    public var query: [(String, String)] = []
    public var body: [UInt8]?
    public var contentType: String?
    /// Whether any data item was given (makes the default method POST).
    public var hasData = false

    public init() {}

    public typealias FileReader = @Sendable (String) throws -> [UInt8]

    public static func build(
        items: [RequestItem],
        encoding: BodyEncoding,
        boundary: String = RequestPlan.makeBoundary(),
        readFile: FileReader = RequestPlan.readFile
    ) throws -> RequestPlan {
        var plan = RequestPlan()
        var data: [RequestItem] = []
        for item in items {
            switch item.kind {
            case .header:
                plan.headers.append((item.name, item.value.isEmpty ? nil : item.value))
            case .emptyHeader:
                plan.headers.append((item.name, ""))
            case .headerFromFile:
                let text = try Self.text(readFile(item.value), item: item)
                plan.headers.append((item.name, text.trimmingCharacters(in: .whitespacesAndNewlines)))
            case .query:
                plan.query.append((item.name, item.value))
            case .queryFromFile:
                plan.query.append((item.name, try Self.text(readFile(item.value), item: item)))
            case .dataString, .dataStringFromFile, .rawJSON, .rawJSONFromFile, .fileUpload:
                data.append(item)
            }
        }
        guard !data.isEmpty else { return plan }
        plan.hasData = true
        let hasFiles = data.contains { $0.kind == .fileUpload }
        switch encoding {
        case .json where !hasFiles:
            plan.body = try Self.jsonBody(data, readFile: readFile)
            plan.contentType = "application/json"
        case .form where !hasFiles:
            plan.body = try Self.urlencodedBody(data, readFile: readFile)
            plan.contentType = "application/x-www-form-urlencoded; charset=utf-8"
        case .json, .form, .multipart:
            plan.body = try Self.multipartBody(data, boundary: boundary, readFile: readFile)
            plan.contentType = "multipart/form-data; boundary=\(boundary)"
        }
        return plan
    }

    // MARK: JSON

    /// `{"a": "b", "n": 1}` in item order; a repeated field becomes an array of its values.
    public static func jsonBody(_ items: [RequestItem], readFile: FileReader = RequestPlan.readFile) throws -> [UInt8] {
        var order: [String] = []
        var values: [String: [[UInt8]]] = [:]
        for item in items {
            let value: [UInt8]
            switch item.kind {
            case .dataString: value = Self.jsonString(item.value)
            case .dataStringFromFile: value = Self.jsonString(try Self.text(readFile(item.value), item: item))
            case .rawJSON: value = Array(item.value.utf8)
            case .rawJSONFromFile:
                let bytes = try readFile(item.value)
                guard JSONValidator.validate(bytes) else {
                    throw RequestItemError(item: "\(item.name):=@\(item.value)", reason: "the file is not valid JSON")
                }
                value = Self.trimmed(bytes)
            default: continue
            }
            if values[item.name] == nil { order.append(item.name) }
            values[item.name, default: []].append(value)
        }
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (index, key) in order.enumerated() {
            if index > 0 { out += Array(", ".utf8) }
            out += Self.jsonString(key)
            out += Array(": ".utf8)
            let all = values[key]!
            if all.count == 1 {
                out += all[0]
            } else {
                out.append(UInt8(ascii: "["))
                for (i, v) in all.enumerated() {
                    if i > 0 { out += Array(", ".utf8) }
                    out += v
                }
                out.append(UInt8(ascii: "]"))
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A JSON string literal; non-ASCII text stays UTF-8.
    public static func jsonString(_ s: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        out.reserveCapacity(s.utf8.count + 2)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [0x5C, 0x22]
            case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0..<0x20:
                out += Array("\\u00".utf8)
                out += Array(URLText.hex(b >> 4).utf8) + Array(URLText.hex(b & 0xF).utf8)
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }

    // MARK: Forms

    public static func urlencodedBody(_ items: [RequestItem], readFile: FileReader = RequestPlan.readFile) throws -> [UInt8] {
        var pairs: [String] = []
        for item in items {
            let value: String
            switch item.kind {
            case .dataString, .rawJSON: value = item.value
            case .dataStringFromFile, .rawJSONFromFile: value = try Self.text(readFile(item.value), item: item)
            default: continue
            }
            pairs.append(URLText.formEncode(item.name) + "=" + URLText.formEncode(value))
        }
        return Array(pairs.joined(separator: "&").utf8)
    }

    public static func multipartBody(_ items: [RequestItem], boundary: String, readFile: FileReader = RequestPlan.readFile) throws -> [UInt8] {
        var out: [UInt8] = []
        for item in items {
            out += Array("--\(boundary)\r\n".utf8)
            let name = Self.quoted(item.name)
            switch item.kind {
            case .fileUpload:
                let filename = Self.quoted(String(item.value.split(separator: "/").last ?? Substring(item.value)))
                let type = item.mediaType ?? MediaTypes.guess(forFilename: item.value)
                out += Array("Content-Disposition: form-data; name=\"\(name)\"; filename=\"\(filename)\"\r\n".utf8)
                out += Array("Content-Type: \(type)\r\n\r\n".utf8)
                out += try readFile(item.value)
            case .dataString, .rawJSON:
                out += Array("Content-Disposition: form-data; name=\"\(name)\"\r\n\r\n".utf8)
                out += Array(item.value.utf8)
            case .dataStringFromFile, .rawJSONFromFile:
                out += Array("Content-Disposition: form-data; name=\"\(name)\"\r\n\r\n".utf8)
                out += try readFile(item.value)
            default:
                continue
            }
            out += Array("\r\n".utf8)
        }
        out += Array("--\(boundary)--\r\n".utf8)
        return out
    }

    static func quoted(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "%22")
            .replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    }

    public static func makeBoundary() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(UInt8.random(in: 0...255, using: &rng), radix: 16) }.joined()
    }

    // MARK: Files

    public static let readFile: FileReader = { path in
        let expanded = (path as NSString).expandingTildeInPath
        guard let data = FileManager.default.contents(atPath: expanded) else {
            throw RequestItemError(item: path, reason: "cannot read file '\(path)'")
        }
        return Array(data)
    }

    static func text(_ bytes: [UInt8], item: RequestItem) throws -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw RequestItemError(item: item.value, reason: "the file is not UTF-8 text")
        }
        return s
    }

    static func trimmed(_ bytes: [UInt8]) -> [UInt8] {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        guard let start = bytes.firstIndex(where: { !isSpace($0) }),
              let end = bytes.lastIndex(where: { !isSpace($0) }) else { return [] }
        return Array(bytes[start...end])
    }
}

/// A few media types by file extension, for uploads and for naming downloads.
public enum MediaTypes {
    static let byExtension: KeyValuePairs<String, String> = [
        "json": "application/json", "html": "text/html", "htm": "text/html", "txt": "text/plain",
        "css": "text/css", "csv": "text/csv", "js": "text/javascript", "xml": "application/xml",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "svg": "image/svg+xml", "webp": "image/webp", "pdf": "application/pdf", "zip": "application/zip",
        "gz": "application/gzip", "tar": "application/x-tar", "wasm": "application/wasm",
        "mp4": "video/mp4", "mp3": "audio/mpeg",
    ]

    public static func guess(forFilename name: String) -> String {
        guard let dot = name.lastIndex(of: "."), !name[dot...].contains("/") else { return "application/octet-stream" }
        let ext = name[name.index(after: dot)...].lowercased()
        return Self.byExtension.first { $0.key == ext }?.value ?? "application/octet-stream"
    }

    /// `text/html; charset=utf-8` → `html`.
    public static func fileExtension(forContentType contentType: String) -> String? {
        let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if type == "text/plain" { return "txt" }
        if type.hasSuffix("+json") { return "json" }
        return Self.byExtension.first { $0.value == type }?.key
    }
}
