/// proxy.conf bytes → tokens, each with its line and column (1-based, counted in Unicode scalars).
///
/// The rules are nginx's where they overlap: words run until whitespace, `{`, `}`, `;` or a quote;
/// `#` starts a comment only where a token could start (so `http://h/#x` stays one word);
/// `"…"` strings take `\"`, `\\`, `\n` and `\t` and keep any other backslash as written (so
/// Twisted's `\:` survives inside quotes too). Unlike nginx a string ends on its line: a missing
/// quote is reported where the string starts instead of swallowing the rest of the file.
/// Pure: no IO, never traps; every problem becomes an error with its position and lexing goes on.
struct ConfigLexer {
    private enum Unit {
        case scalar(Unicode.Scalar)
        /// The first byte of a sequence that is not UTF-8.
        case invalid(UInt8)
    }

    private let units: [Unit]
    private let file: String
    private var index = 0
    private var line = 1
    private var column = 1
    private(set) var tokens: [ConfigToken] = []
    private(set) var errors: [ConfigError] = []

    static func tokenize(_ bytes: some Collection<UInt8>, file: String) -> (tokens: [ConfigToken], errors: [ConfigError]) {
        var lexer = ConfigLexer(bytes: bytes, file: file)
        lexer.run()
        return (lexer.tokens, lexer.errors)
    }

    private init(bytes: some Collection<UInt8>, file: String) {
        var units = Self.decode(Array(bytes))
        // A UTF-8 byte order mark says nothing: skip it.
        if case .scalar("\u{FEFF}") = units.first { units.removeFirst() }
        self.units = units
        self.file = file
    }

    /// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF. A bad
    /// sequence becomes one `.invalid` unit (its lead byte and any continuation bytes after it).
    private static func decode(_ bytes: [UInt8]) -> [Unit] {
        var units: [Unit] = []
        units.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let lead = bytes[i]
            if lead < 0x80 {
                units.append(.scalar(Unicode.Scalar(lead)))
                i += 1
                continue
            }
            let length: Int
            let minimum: UInt32
            switch lead {
            case 0xC2...0xDF: (length, minimum) = (2, 0x80)
            case 0xE0...0xEF: (length, minimum) = (3, 0x800)
            case 0xF0...0xF4: (length, minimum) = (4, 0x10000)
            default: (length, minimum) = (0, 0)
            }
            var value = UInt32(lead) & (0xFF >> (length + 1))
            var valid = length > 0 && i + length <= bytes.count
            if valid {
                for k in 1..<length {
                    let byte = bytes[i + k]
                    guard byte & 0xC0 == 0x80 else {
                        valid = false
                        break
                    }
                    value = value << 6 | UInt32(byte & 0x3F)
                }
            }
            if valid, value >= minimum, let scalar = Unicode.Scalar(value) {
                units.append(.scalar(scalar))
                i += length
            } else {
                units.append(.invalid(lead))
                i += 1
                while i < bytes.count, bytes[i] & 0xC0 == 0x80 { i += 1 }
            }
        }
        return units
    }

    private var here: SourceLocation { SourceLocation(file: self.file, line: self.line, column: self.column) }

    private func peek(_ ahead: Int = 0) -> Unit? {
        let i = self.index + ahead
        return i < self.units.count ? self.units[i] : nil
    }

    private mutating func advance() {
        if case .scalar("\n") = self.units[self.index] {
            self.line += 1
            self.column = 1
        } else {
            self.column += 1
        }
        self.index += 1
    }

    private mutating func error(_ message: String, at location: SourceLocation) {
        guard self.errors.count < ConfigDiagnostics.collectionLimit else { return }
        self.errors.append(ConfigError(location: location, message: message))
    }

    /// Reports and skips a unit that may appear nowhere (a control character or bad UTF-8); true if it did.
    private mutating func skipForbidden() -> Bool {
        guard let unit = self.peek() else { return false }
        switch unit {
        case .invalid(let byte):
            self.error("invalid UTF-8 (byte 0x\(Self.hex(byte)))", at: self.here)
        case .scalar(let s) where Self.isForbiddenControl(s, next: self.peek(1)):
            self.error("control character U+\(Self.hex(s.value, width: 4)) is not allowed", at: self.here)
        default:
            return false
        }
        self.advance()
        return true
    }

    private mutating func run() {
        while let unit = self.peek() {
            if self.skipForbidden() { continue }
            guard case .scalar(let s) = unit else { continue }
            let start = self.here
            switch s {
            case " ", "\t", "\r":  // a lone "\r" was rejected above; in "\r\n" the "\n" ends the line
                self.advance()
            case "\n":
                self.tokens.append(ConfigToken(.newline, at: start))
                self.advance()
            case "#":
                while self.peek() != nil, !self.atLineEnd() {
                    if !self.skipForbidden() { self.advance() }
                }
            case "{":
                self.tokens.append(ConfigToken(.openBrace, at: start))
                self.advance()
            case "}":
                self.tokens.append(ConfigToken(.closeBrace, at: start))
                self.advance()
            case ";":
                self.tokens.append(ConfigToken(.semicolon, at: start))
                self.advance()
            default:
                self.word()
            }
        }
        self.tokens.append(ConfigToken(.end, at: self.here))
    }

    /// A word, a quoted string, or pieces of both with nothing between them.
    private mutating func word() {
        let start = self.here
        var text = String.UnicodeScalarView()
        var isQuoted = false
        while let unit = self.peek() {
            if self.skipForbidden() { continue }
            guard case .scalar(let s) = unit else { continue }
            if s == "\"" {
                isQuoted = true
                self.quoted(into: &text)
            } else if Self.endsWord(s) {
                break
            } else {
                text.append(s)
                self.advance()
            }
        }
        self.tokens.append(ConfigToken(.word, text: String(text), isQuoted: isQuoted, at: start))
    }

    private mutating func quoted(into text: inout String.UnicodeScalarView) {
        let open = self.here
        self.advance()
        while let unit = self.peek() {
            if self.atLineEnd() { break }
            if self.skipForbidden() { continue }
            guard case .scalar(let s) = unit else { continue }
            self.advance()
            switch s {
            case "\"":
                return
            case "\\":
                guard case .scalar(let escaped)? = self.peek(), !self.atLineEnd(),
                    !Self.isForbiddenControl(escaped, next: self.peek(1))
                else {
                    text.append(s)
                    continue
                }
                self.advance()
                switch escaped {
                case "\"", "\\": text.append(escaped)
                case "n": text.append("\n")
                case "t": text.append("\t")
                default:
                    text.append(s)
                    text.append(escaped)
                }
            default:
                text.append(s)
            }
        }
        self.error("unterminated string: add the closing '\"' on the same line", at: open)
    }

    private static func endsWord(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case " ", "\t", "\r", "\n", "{", "}", ";": true
        default: false
        }
    }

    /// At "\n", or at the "\r" of "\r\n".
    private func atLineEnd() -> Bool {
        switch self.peek() {
        case .scalar("\n")?: return true
        case .scalar("\r")?:
            if case .scalar("\n")? = self.peek(1) { return true }
            return false
        default: return false
        }
    }

    /// C0 controls other than tab and line ends, DEL, and C1 controls; "\r" only before "\n".
    private static func isForbiddenControl(_ s: Unicode.Scalar, next: Unit?) -> Bool {
        switch s.value {
        case 0x09, 0x0A: return false
        case 0x0D:
            if case .scalar("\n")? = next { return false }
            return true
        case 0x00...0x1F, 0x7F...0x9F: return true
        default: return false
        }
    }

    private static func hex(_ value: some BinaryInteger, width: Int = 2) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
