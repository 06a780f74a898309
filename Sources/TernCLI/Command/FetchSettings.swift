/// The fetch command's options as plain values, with their defaults.
///
/// argument-parser fills them in from a command line with options (`FetchCommand.settings`);
/// the common `tern [METHOD] URL [ITEM…]` form, which has none, gets them without it
/// (`FetchSettings.plain(_:)`). That matters in a process that lives for milliseconds:
/// argument-parser finds a command's options by reflection, and each first protocol-conformance
/// lookup it makes scans every conformance record of the binary (~3 ms of a 12 ms fetch).
/// The option groups in FetchOptions.swift take their defaults from here, so there is one list.
public struct FetchSettings: Sendable, Hashable {
    /// `[METHOD] URL [URL…] [ITEM…]`, as given.
    public var arguments: [String] = []
    public var request = Request()
    public var output = Output()
    public var download = Download()
    public var connection = Connection()

    public init(arguments: [String] = []) {
        self.arguments = arguments
    }

    public struct Request: Sendable, Hashable {
        public var json = false
        public var form = false
        public var multipart = false
        public var head = false
        public var auth: String?
        public var bearer: String?
        public var ignoreStdin = false
        public var compress = true
    }

    public struct Output: Sendable, Hashable {
        public var verbose = false
        public var headers = false
        public var body = false
        public var print: String?
        public var pretty: PrettyStyle?
        public var quiet = false
    }

    public struct Download: Sendable, Hashable {
        public var output: String?
        public var download = false
        public var resume = false
    }

    public struct Connection: Sendable, Hashable {
        public var follow = false
        public var maxRedirects = 30
        public var timeout: Double?
        public var connectTimeout: Double?
        public var maxTime: Double?
        public var retry = 0
        public var retryDelay: Double = 1
        public var checkStatus = false
        public var insecure = false
        public var cacert: String?
        public var cert: String?
        public var key: String?
        public var unixSocket: String?
        public var parallel = 8
    }

    /// The settings of a command line made of positional arguments only (`GET URL a=1 X-A:b`),
    /// which argument-parser would parse into exactly these values; nil when anything in it could
    /// be an option (it starts with `-`), a subcommand (`proxy`, `fetch`, `help`) or is missing.
    static func plain(_ arguments: [String], subcommands: Set<String>) -> FetchSettings? {
        guard let first = arguments.first, !subcommands.contains(first) else { return nil }
        for argument in arguments where argument.utf8.first == UInt8(ascii: "-") {
            return nil
        }
        return FetchSettings(arguments: arguments)
    }

    /// What argument-parser's validation refuses; messages as `tern: …` prints them.
    func problems() -> String? {
        let connection = self.connection
        if connection.maxRedirects < 0 { return "--max-redirects must not be negative" }
        if connection.retry < 0 { return "--retry must not be negative" }
        if connection.parallel < 1 { return "--parallel must be at least 1" }
        for (name, value) in [("--timeout", connection.timeout), ("--connect-timeout", connection.connectTimeout),
                              ("--max-time", connection.maxTime)] {
            if let value, !(value > 0) { return "\(name) must be a positive number of seconds" }
        }
        if !(connection.retryDelay >= 0) { return "--retry-delay must not be negative" }
        if [self.request.json, self.request.form, self.request.multipart].filter({ $0 }).count > 1 {
            return "--json, --form and --multipart exclude each other"
        }
        if self.download.resume && self.download.output == nil && !self.download.download {
            return "--continue needs --output FILE or --download"
        }
        if (connection.cert == nil) != (connection.key == nil) {
            return "--cert and --key go together"
        }
        if let print = self.output.print, print.isEmpty || !print.allSatisfy({ "HBhb".contains($0) }) {
            return "--print takes letters from H, B, h, b (e.g. --print=Hh)"
        }
        return nil
    }
}
