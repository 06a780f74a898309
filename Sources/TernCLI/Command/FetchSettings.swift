/// The fetch command's options as plain values, with their defaults.
///
/// argument-parser fills them in from a command line with options (`FetchCommand.settings`);
/// the common `tern [FLAGS] [METHOD] URL [ITEM…]` form, with on/off flags only, gets them without
/// it (`FetchSettings.plain(_:)`). That matters in a process that lives for milliseconds:
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

    /// The settings of a command line made of positional arguments and the common on/off flags
    /// (`GET URL a=1 X-A:b`, `-v -L URL`, `-vL URL`), which argument-parser would parse into
    /// exactly these values (`FetchJobTests` compares the two); nil when anything in it is an
    /// option that takes a value, an unknown or repeated flag, `--`, a subcommand (`proxy`,
    /// `fetch`, `help`) or is missing: argument-parser answers those.
    static func plain(_ arguments: [String], subcommands: Set<String>) -> FetchSettings? {
        guard let first = arguments.first, !subcommands.contains(first) else { return nil }
        var settings = FetchSettings()
        var seen = Set<Flag>()
        for argument in arguments {
            let utf8 = argument.utf8
            guard utf8.first == UInt8(ascii: "-") else {
                settings.arguments.append(argument)
                continue
            }
            let flags: [Flag]
            if utf8.count > 2, argument.hasPrefix("--") {
                guard let flag = Flag.long[argument] else { return nil }
                flags = [flag]
            } else if utf8.count >= 2 {
                var found: [Flag] = []
                for byte in utf8.dropFirst() {
                    guard let flag = Flag.short[byte] else { return nil }
                    found.append(flag)
                }
                flags = found
            } else {
                return nil  // "-" alone
            }
            for flag in flags {
                guard seen.insert(flag).inserted else { return nil }
                flag.set(&settings)
            }
        }
        // --compress and --no-compress together, or no URL: argument-parser's messages.
        if seen.contains(.compress) && seen.contains(.noCompress) { return nil }
        if settings.arguments.isEmpty || settings.problems() != nil { return nil }
        return settings
    }

    /// The on/off flags the plain path knows; every other option goes through argument-parser.
    enum Flag: Hashable {
        case json, form, multipart, head, ignoreStdin, compress, noCompress
        case verbose, headers, body, quiet, download, follow, checkStatus, insecure

        static let short: [UInt8: Flag] = [
            UInt8(ascii: "j"): .json, UInt8(ascii: "f"): .form, UInt8(ascii: "I"): .head,
            UInt8(ascii: "v"): .verbose, UInt8(ascii: "h"): .headers, UInt8(ascii: "b"): .body,
            UInt8(ascii: "q"): .quiet, UInt8(ascii: "d"): .download, UInt8(ascii: "L"): .follow,
            UInt8(ascii: "k"): .insecure,
        ]

        static let long: [String: Flag] = [
            "--json": .json, "--form": .form, "--multipart": .multipart, "--head": .head,
            "--ignore-stdin": .ignoreStdin, "--compress": .compress, "--no-compress": .noCompress,
            "--verbose": .verbose, "--headers": .headers, "--body": .body, "--quiet": .quiet,
            "--download": .download, "--follow": .follow, "--check-status": .checkStatus, "--insecure": .insecure,
        ]

        func set(_ settings: inout FetchSettings) {
            switch self {
            case .json: settings.request.json = true
            case .form: settings.request.form = true
            case .multipart: settings.request.multipart = true
            case .head: settings.request.head = true
            case .ignoreStdin: settings.request.ignoreStdin = true
            case .compress: settings.request.compress = true
            case .noCompress: settings.request.compress = false
            case .verbose: settings.output.verbose = true
            case .headers: settings.output.headers = true
            case .body: settings.output.body = true
            case .quiet: settings.output.quiet = true
            case .download: settings.download.download = true
            case .follow: settings.connection.follow = true
            case .checkStatus: settings.connection.checkStatus = true
            case .insecure: settings.connection.insecure = true
            }
        }
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
