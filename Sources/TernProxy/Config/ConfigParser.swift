/// Tokens → a tree of directives. Knows nothing of what directives mean: only that a directive is
/// a name and arguments ended by a newline, `;`, `}` or a `{ … }` block.
///
/// A `{` on the line after a directive still opens its block (as nginx allows), so Allman-style
/// files read the same. Unbalanced braces are reported where they are and parsing goes on, so
/// later errors are still found. Nesting is bounded: the grammar needs two levels, and a file of
/// ten thousand `{` must not exhaust the stack.
struct ConfigParser {
    static let maximumDepth = 8

    private let tokens: [ConfigToken]
    private var index = 0
    private(set) var errors: [ConfigError] = []

    static func parse(_ tokens: [ConfigToken]) -> (directives: [ConfigDirective], errors: [ConfigError]) {
        var parser = ConfigParser(tokens: tokens)
        let directives = parser.directives(depth: 0)
        return (directives, parser.errors)
    }

    private init(tokens: [ConfigToken]) {
        // The lexer always ends with `.end`; keep that true for any input so `peek` never runs out.
        if tokens.last?.kind == .end {
            self.tokens = tokens
        } else {
            let end = tokens.last?.location ?? SourceLocation(file: "", line: 1, column: 1)
            self.tokens = tokens + [ConfigToken(.end, at: end)]
        }
    }

    private var peek: ConfigToken { self.tokens[self.index] }

    private mutating func advance() {
        if self.index < self.tokens.count - 1 { self.index += 1 }
    }

    private mutating func error(_ message: String, at location: SourceLocation) {
        guard self.errors.count < ConfigDiagnostics.collectionLimit else { return }
        self.errors.append(ConfigError(location: location, message: message))
    }

    /// Directives until the `}` closing this level (left for the caller) or the end of input.
    private mutating func directives(depth: Int) -> [ConfigDirective] {
        var result: [ConfigDirective] = []
        while true {
            let token = self.peek
            switch token.kind {
            case .newline, .semicolon:
                self.advance()
            case .end:
                return result
            case .closeBrace:
                if depth > 0 { return result }
                self.error("unexpected '}' with no block open", at: token.location)
                self.advance()
            case .openBrace:
                self.error("'{' with no directive before it", at: token.location)
                _ = self.block(depth: depth)
            case .word:
                result.append(self.directive(depth: depth))
            }
        }
    }

    private mutating func directive(depth: Int) -> ConfigDirective {
        let name = self.peek
        self.advance()
        var arguments: [ConfigToken] = []
        while true {
            let token = self.peek
            switch token.kind {
            case .word:
                arguments.append(token)
                self.advance()
            case .semicolon:
                self.advance()
                return ConfigDirective(name: name, arguments: arguments, block: nil)
            case .closeBrace, .end:
                return ConfigDirective(name: name, arguments: arguments, block: nil)
            case .openBrace:
                return ConfigDirective(name: name, arguments: arguments, block: self.block(depth: depth))
            case .newline:
                // Look past blank lines for a `{` on a line of its own.
                var ahead = self.index
                while self.tokens[ahead].kind == .newline { ahead += 1 }
                if self.tokens[ahead].kind == .openBrace {
                    self.index = ahead
                    return ConfigDirective(name: name, arguments: arguments, block: self.block(depth: depth))
                }
                self.advance()
                return ConfigDirective(name: name, arguments: arguments, block: nil)
            }
        }
    }

    /// At a `{`: the block up to its `}`.
    private mutating func block(depth: Int) -> ConfigBlock {
        let open = self.peek.location
        self.advance()
        if depth + 1 > Self.maximumDepth {
            self.error("blocks are nested too deeply", at: open)
            self.skipBlockBody()
            return ConfigBlock(location: open, directives: [])
        }
        let directives = self.directives(depth: depth + 1)
        if self.peek.kind == .closeBrace {
            self.advance()
        } else {
            self.error("'{' is never closed", at: open)
        }
        return ConfigBlock(location: open, directives: directives)
    }

    /// Past the `}` matching an already consumed `{`, without recursion.
    private mutating func skipBlockBody() {
        var open = 1
        while open > 0 {
            switch self.peek.kind {
            case .openBrace: open += 1
            case .closeBrace: open -= 1
            case .end: return
            default: break
            }
            self.advance()
        }
    }
}
