/// One lexical unit of proxy.conf.
struct ConfigToken: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// A word or a quoted string (or both run together: `key="a b"`); `text` is its value.
        case word
        case openBrace
        case closeBrace
        case semicolon
        /// The end of a line: like `;`, it ends a directive.
        case newline
        case end
    }

    var kind: Kind
    /// The value: quotes removed, escapes resolved. Empty for punctuation.
    var text: String
    /// Whether any part was quoted: a quoted `"{"` is a word, and column offsets inside the text
    /// no longer match the file.
    var isQuoted: Bool
    var location: SourceLocation

    init(_ kind: Kind, text: String = "", isQuoted: Bool = false, at location: SourceLocation) {
        self.kind = kind
        self.text = text
        self.isQuoted = isQuoted
        self.location = location
    }

    /// Where the character `offset` Unicode scalars into the text sits in the file; the token's
    /// start when quoting makes that unknowable.
    func location(atOffset offset: Int) -> SourceLocation {
        guard !self.isQuoted, offset > 0 else { return self.location }
        var location = self.location
        location.column += min(offset, self.text.unicodeScalars.count)
        return location
    }
}
