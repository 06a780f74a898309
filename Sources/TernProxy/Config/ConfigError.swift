/// One problem in proxy.conf: where it is and what is wrong, printed the way compilers do
/// (`proxy.conf:12:5: unknown directive 'lisen' (did you mean 'listen'?)`) so editors can jump to it.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(location: SourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    /// Line 0 stands for the file as a whole (it could not be read): no position is printed then.
    public var description: String {
        if self.location.line == 0 { return "\(self.location.file): \(self.message)" }
        return "\(self.location): \(self.message)"
    }
}

/// Every problem found in one reading of proxy.conf, in file order, so a whole file can be fixed
/// in one pass rather than one error per run. Capped at `ConfigErrors.limit`.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]

    /// How many errors are reported at most; past it, later ones are dropped.
    public static let limit = 20

    public init(errors: [ConfigError]) {
        self.errors = errors
    }

    public var description: String {
        self.errors.map(\.description).joined(separator: "\n")
    }
}

/// Collects errors while the layers run, then hands them back sorted by position.
struct ConfigDiagnostics {
    /// A file of garbage can produce an error per byte; keep memory bounded before sorting.
    static let collectionLimit = 2000

    private(set) var errors: [ConfigError] = []

    var isEmpty: Bool { self.errors.isEmpty }

    /// No more errors will be kept: callers may skip the work of phrasing one.
    var isFull: Bool { self.errors.count >= Self.collectionLimit }

    mutating func error(_ message: String, at location: SourceLocation) {
        guard self.errors.count < Self.collectionLimit else { return }
        self.errors.append(ConfigError(location: location, message: message))
    }

    mutating func append(contentsOf other: [ConfigError]) {
        for error in other { self.error(error.message, at: error.location) }
    }

    /// File order (stable for errors at the same place), capped.
    func sorted() -> ConfigErrors {
        let ordered = self.errors.enumerated().sorted { a, b in
            let (x, y) = (a.element.location, b.element.location)
            if x.line != y.line { return x.line < y.line }
            if x.column != y.column { return x.column < y.column }
            return a.offset < b.offset
        }
        return ConfigErrors(errors: ordered.prefix(ConfigErrors.limit).map(\.element))
    }
}
