/// One line of proxy.conf as written, before it means anything: `name arg arg { … }`.
struct ConfigDirective: Sendable, Equatable {
    var name: ConfigToken
    var arguments: [ConfigToken]
    var block: ConfigBlock?

    var location: SourceLocation { self.name.location }
}

/// The `{ … }` after a directive.
struct ConfigBlock: Sendable, Equatable {
    /// Where the `{` is.
    var location: SourceLocation
    var directives: [ConfigDirective]
}
