/// The directive tree → a validated `ProxyConfiguration`. Every problem is reported at the token
/// that causes it and interpretation goes on, so one run lists all of a file's mistakes; a
/// directive that failed still counts as written (a broken `upstream app` does not also make every
/// `proxy app` "unknown").
///
/// The directive handlers live in `ConfigInterpreter+*.swift`, one block kind per file; this file
/// holds the walk, the checks every directive gets (name, place, arguments, block, repetition)
/// and the value helpers that turn a bad value into "expected …, got '…'".
struct ConfigInterpreter {
    let file: String
    let baseDirectory: String
    var diagnostics: ConfigDiagnostics
    var configuration = ProxyConfiguration()

    /// Every `upstream` name written, even if its block had errors.
    var upstreamLocations: [String: SourceLocation] = [:]
    /// `proxy NAME` lines, checked once all upstreams are known (they may come later in the file).
    var upstreamReferences: [ConfigToken] = []
    /// Route identity (host and prefix) → where it was first written.
    var routeLocations: [String: SourceLocation] = [:]
    /// Listener identity (port and interface, or socket path) → where it was first written.
    var listenerLocations: [String: SourceLocation] = [:]
    var errorPageLocations: [Int: SourceLocation] = [:]
    var sawListen = false
    /// `cache-*` settings, applied once the whole top level is read (they may come before `cache`).
    var pendingCacheSettings: [(name: String, token: ConfigToken, location: SourceLocation)] = []
    var sawPurgeAllow = false

    static func interpret(
        _ directives: [ConfigDirective], file: String, baseDirectory: String, diagnostics: inout ConfigDiagnostics,
        checkCompleteness: Bool
    ) -> ProxyConfiguration {
        var interpreter = ConfigInterpreter(file: file, baseDirectory: baseDirectory, diagnostics: diagnostics)
        interpreter.topLevel(directives)
        interpreter.applyCacheSettings()
        interpreter.checkReferences()
        if checkCompleteness, !interpreter.sawListen {
            interpreter.error(
                "no 'listen' directive: tern needs at least one, like 'listen tcp:8080'",
                at: SourceLocation(file: file, line: 1, column: 1))
        }
        diagnostics = interpreter.diagnostics
        return interpreter.configuration
    }

    private init(file: String, baseDirectory: String, diagnostics: ConfigDiagnostics) {
        self.file = file
        self.baseDirectory = baseDirectory
        self.diagnostics = diagnostics
    }

    mutating func error(_ message: String, at location: SourceLocation) {
        self.diagnostics.error(message, at: location)
    }

    private mutating func checkReferences() {
        let names = self.upstreamLocations.keys.sorted()
        // References are in file order: past the first `limit` unknown ones, none can be reported.
        let known = self.upstreamLocations
        let unknown = self.upstreamReferences.lazy.filter { known[$0.text] == nil }.prefix(ConfigErrors.limit)
        for token in unknown {
            var message = "unknown upstream '\(Self.show(token.text))'"
            if let near = ConfigVocabulary.nearest(to: token.text, among: names) {
                message += " (did you mean '\(near)'?)"
            } else {
                message += ": define it with 'upstream \(Self.show(token.text)) { server … }'"
            }
            self.error(message, at: token.location)
        }
    }

    // MARK: - Checks every directive gets

    /// Checks that the directive exists, belongs in `context`, has a block if it needs one and the
    /// right number of arguments, and is not a repeat. Nil: nothing more can be read from it.
    /// Extra arguments are reported and dropped, so the rest is still checked.
    mutating func accept(
        _ directive: ConfigDirective, in context: ConfigContext, seen: inout [String: SourceLocation]
    ) -> (spec: DirectiveSpec, arguments: [ConfigToken])? {
        let name = directive.name.text
        guard let spec = ConfigVocabulary.spec(named: name) else {
            if self.diagnostics.isFull { return nil }
            let (message, suggestion) = self.unknownDirective(name, in: context)
            // `lisen tcp:8080` is the listener, misspelt: "no listen" on top of it would be noise.
            if suggestion == "listen" { self.sawListen = true }
            self.error(message, at: directive.location)
            return nil
        }
        guard spec.contexts.contains(context) else {
            let places = ConfigContext.allCases.filter { spec.contexts.contains($0) }.map(\.phrase)
            self.error(
                "'\(name)' is not allowed \(context.phrase); it belongs \(places.joined(separator: " or "))",
                at: directive.location)
            return nil
        }
        if !spec.repeatable {
            if let first = seen[name] {
                self.error("duplicate '\(name)' (first at \(first))", at: directive.location)
                return nil
            }
            seen[name] = directive.location
        }
        switch (spec.block, directive.block) {
        case (.required, nil):
            self.error("'\(name)' needs a block (usage: \(spec.usage))", at: directive.location)
            return nil
        case (.none, let block?):
            self.error("'\(name)' does not take a block", at: block.location)
        default:
            break
        }
        var arguments = directive.arguments
        if arguments.count < spec.arguments.lowerBound {
            self.error("missing argument to '\(name)' (usage: \(spec.usage))", at: directive.location)
            return nil
        }
        if arguments.count > spec.arguments.upperBound {
            self.extraArgument(arguments[spec.arguments.upperBound], to: spec)
            arguments.removeLast(arguments.count - spec.arguments.upperBound)
        }
        return (spec, arguments)
    }

    private func unknownDirective(_ name: String, in context: ConfigContext) -> (message: String, suggestion: String?) {
        var message = "unknown directive '\(Self.show(name))'"
        let suggestion: String?
        if let tern = ConfigVocabulary.nginxNames[name] {
            suggestion = tern
        } else {
            let here = ConfigVocabulary.directives.filter { $0.contexts.contains(context) }.map(\.name)
            suggestion =
                ConfigVocabulary.nearest(to: name, among: here)
                ?? ConfigVocabulary.nearest(to: name, among: ConfigVocabulary.directives.map(\.name))
        }
        if let suggestion, let spec = ConfigVocabulary.spec(named: suggestion) {
            if spec.contexts.contains(context) {
                message += " (did you mean '\(suggestion)'?)"
            } else {
                let place = ConfigContext.allCases.first { spec.contexts.contains($0) }!.phrase
                message += " (did you mean '\(suggestion)' \(place)?)"
            }
        }
        return (message, suggestion)
    }

    mutating func extraArgument(_ token: ConfigToken, to spec: DirectiveSpec) {
        var message = "unexpected argument '\(Self.show(token.text))' to '\(spec.name)'"
        if !token.isQuoted, ConfigVocabulary.spec(named: token.text) != nil {
            // `limits { max-body 1g header-timeout 10s }`: newlines end directives, spaces do not.
            message += " (one directive per line, or end each with ';')"
        } else {
            message += " (usage: \(spec.usage))"
        }
        self.error(message, at: token.location)
    }

    mutating func missingArgument(to directive: ConfigDirective, _ spec: DirectiveSpec) {
        self.error("missing argument to '\(spec.name)' (usage: \(spec.usage))", at: directive.location)
    }

    // MARK: - Values

    /// Quoted for a message: control characters escaped, long text cut.
    static func show(_ text: String) -> String {
        var result = ""
        for (index, scalar) in text.unicodeScalars.enumerated() {
            if index == 60 {
                result += "…"
                break
            }
            if scalar.value < 0x20 || scalar.value == 0x7F {
                result += scalar.escaped(asASCII: true)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    mutating func expected(_ what: String, got text: String, at location: SourceLocation) {
        self.error("expected \(what), got '\(Self.show(text))'", at: location)
    }

    /// `parse(text)`, or an "expected …" error at `location`.
    mutating func value<T>(
        _ text: String, at location: SourceLocation, expected what: String, _ parse: (String) -> T?
    ) -> T? {
        if let value = parse(text) { return value }
        self.expected(what, got: text, at: location)
        return nil
    }

    mutating func value<T>(_ token: ConfigToken, expected what: String, _ parse: (String) -> T?) -> T? {
        self.value(token.text, at: token.location, expected: what, parse)
    }

    mutating func positiveDuration(_ text: String, at location: SourceLocation) -> Duration? {
        guard let duration = self.value(text, at: location, expected: ConfigValue.expectedDuration, ConfigValue.duration)
        else { return nil }
        guard duration > .zero else {
            self.expected("a duration above 0, like 5s or 500ms", got: text, at: location)
            return nil
        }
        return duration
    }

    mutating func count(_ text: String, at location: SourceLocation, atLeast minimum: Int, what: String) -> Int? {
        guard let value = ConfigValue.integer(text), value >= minimum else {
            self.expected("\(what) of \(minimum) or more", got: text, at: location)
            return nil
        }
        return value
    }

    /// A file named in the config: relative paths are taken from the config file's directory, so
    /// the file means the same whatever directory tern was started in.
    mutating func filePath(_ text: String, at location: SourceLocation) -> String? {
        guard !text.isEmpty else {
            self.expected("a file path", got: text, at: location)
            return nil
        }
        return self.resolve(text)
    }

    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") || self.baseDirectory.isEmpty { return path }
        return self.baseDirectory.hasSuffix("/") ? self.baseDirectory + path : self.baseDirectory + "/" + path
    }

    /// `key=value` arguments. Unknown keys, repeats and words without `=` are errors; each value
    /// comes with its own position (just past the `=`).
    mutating func options(_ tokens: some Sequence<ConfigToken>, allowed: [String], for owner: String) -> [String: Option] {
        var result: [String: Option] = [:]
        for token in tokens {
            guard let equals = token.text.firstIndex(of: "=") else {
                self.error(
                    "expected key=value, got '\(Self.show(token.text))' (options of '\(owner)': \(allowed.joined(separator: ", ")))",
                    at: token.location)
                continue
            }
            let key = String(token.text[..<equals])
            let value = String(token.text[token.text.index(after: equals)...])
            guard allowed.contains(key) else {
                var message = "unknown option '\(Self.show(key))' for '\(owner)'"
                if let near = ConfigVocabulary.nearest(to: key, among: allowed) {
                    message += " (did you mean '\(near)'?)"
                } else {
                    message += " (options: \(allowed.joined(separator: ", ")))"
                }
                self.error(message, at: token.location)
                continue
            }
            if let first = result[key] {
                self.error("'\(key)' is given twice (first at \(first.token.location))", at: token.location)
                continue
            }
            let offset = key.unicodeScalars.count + 1
            result[key] = Option(value: value, token: token, valueLocation: token.location(atOffset: offset))
        }
        return result
    }

    struct Option {
        var value: String
        var token: ConfigToken
        var valueLocation: SourceLocation
    }
}
