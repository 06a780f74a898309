import Foundation

/// Picks the file name for `--download`: Content-Disposition first (RFC 6266, `filename*` before
/// `filename`), else the last segment of the URL path, else `index`; an extension from the
/// Content-Type is added when the name has none. Names are reduced to one safe path component.
public enum DownloadName {
    public static func filename(contentDisposition: String?, url: String, contentType: String?) -> String {
        if let header = contentDisposition, let name = Self.fromContentDisposition(header).flatMap(Self.sanitize) {
            return name
        }
        var name = Self.fromURL(url) ?? "index"
        if !name.contains("."), let type = contentType, let ext = MediaTypes.fileExtension(forContentType: type) {
            name += "." + ext
        }
        return name
    }

    /// The (unsanitized) file name a Content-Disposition header names, if any.
    public static func fromContentDisposition(_ header: String) -> String? {
        var plain: String?
        var extended: String?
        for parameter in Self.parameters(header).dropFirst() {
            switch parameter.name.lowercased() {
            case "filename*": extended = Self.decodeExtended(parameter.value)
            case "filename": plain = parameter.value
            default: continue
            }
        }
        return extended ?? plain
    }

    /// Last non-empty path segment of the URL, percent-decoded and sanitized.
    public static func fromURL(_ url: String) -> String? {
        guard let (_, _, pathAndQuery) = URLText.components(url) else { return nil }
        let path = pathAndQuery.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard let last = path.split(separator: "/").last else { return nil }
        return Self.sanitize(String(decoding: URLText.percentDecode(last), as: UTF8.self))
    }

    /// One path component without directory parts, control characters or leading dots; nil if nothing is left.
    public static func sanitize(_ raw: String) -> String? {
        let lastComponent = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var name = String(lastComponent.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F })
        while name.hasPrefix(".") { name.removeFirst() }
        name = name.trimmingCharacters(in: .whitespaces)
        if name.utf8.count > 255 { name = String(name.prefix(200)) }
        return name.isEmpty ? nil : name
    }

    /// `name`, or `name-1`, `name-2`, … (before the extension, httpie puts it after: `name.txt-1`) when taken.
    public static func unique(_ name: String, exists: (String) -> Bool) -> String {
        guard exists(name) else { return name }
        var n = 1
        while exists("\(name)-\(n)") { n += 1 }
        return "\(name)-\(n)"
    }

    // MARK: header parsing

    struct Parameter { var name: String; var value: String }

    /// Splits `attachment; filename="a;b.txt"; size=3` into its parts, honouring quoted strings.
    static func parameters(_ header: String) -> [Parameter] {
        var result: [Parameter] = []
        var chars = Substring(header)
        while !chars.isEmpty {
            chars = chars.drop { $0 == " " || $0 == "\t" || $0 == ";" }
            let nameEnd = chars.firstIndex { $0 == "=" || $0 == ";" } ?? chars.endIndex
            let name = chars[..<nameEnd].trimmingCharacters(in: .whitespaces)
            chars = chars[nameEnd...]
            var value = ""
            if chars.first == "=" {
                chars = chars.dropFirst().drop { $0 == " " || $0 == "\t" }
                if chars.first == "\"" {
                    chars = chars.dropFirst()
                    while let c = chars.first, c != "\"" {
                        if c == "\\", chars.count > 1 {
                            chars = chars.dropFirst()
                        }
                        value.append(chars.first!)
                        chars = chars.dropFirst()
                    }
                    chars = chars.dropFirst()
                    chars = chars.drop { $0 != ";" }
                } else {
                    let end = chars.firstIndex(of: ";") ?? chars.endIndex
                    value = chars[..<end].trimmingCharacters(in: .whitespaces)
                    chars = chars[end...]
                }
            }
            if !name.isEmpty { result.append(Parameter(name: name, value: value)) }
        }
        return result
    }

    /// RFC 8187: `UTF-8'en'na%C3%AFve.txt`.
    static func decodeExtended(_ value: String) -> String? {
        let parts = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        let charset = parts[0].lowercased()
        let bytes = URLText.percentDecode(parts[2])
        if charset == "utf-8" { return String(validating: bytes, as: UTF8.self) }
        if charset == "iso-8859-1" { return String(bytes.map { Character(Unicode.Scalar($0)) }) }
        return nil
    }
}
