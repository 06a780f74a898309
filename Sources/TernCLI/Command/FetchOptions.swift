import ArgumentParser

/// How the request body is encoded and what goes with it.
public struct RequestOptions: ParsableArguments, Sendable {
    public init() {}

    @Flag(name: [.customShort("j"), .long], help: "Data items as a JSON object (the default).")
    public var json = false

    @Flag(name: [.customShort("f"), .long], help: ArgumentHelp(
        "Data items as a form: application/x-www-form-urlencoded, or multipart/form-data when a file is uploaded (field@file)."))
    public var form = false

    @Flag(help: "Always send a multipart/form-data body.")
    public var multipart = false

    @Flag(name: [.customShort("I"), .customLong("head")], help: "Send a HEAD request (curl's -I); shows the response head.")
    public var head = false

    @Option(name: [.customShort("u"), .customLong("auth")], help: ArgumentHelp(
        "Basic authentication; the password may be omitted (then it is empty, or asked on a terminal).",
        valueName: "user[:pass]"))
    public var auth: String?

    @Option(help: ArgumentHelp("Send 'Authorization: Bearer TOKEN'.", valueName: "token"))
    public var bearer: String?

    @Flag(help: "Do not read a request body from standard input, even when it is piped.")
    public var ignoreStdin = false

    @Flag(inversion: .prefixedNo, help: "Ask for a compressed response (gzip, deflate) and decompress it.")
    public var compress = FetchSettings.Request().compress

    var values: FetchSettings.Request {
        FetchSettings.Request(
            json: self.json, form: self.form, multipart: self.multipart, head: self.head, auth: self.auth,
            bearer: self.bearer, ignoreStdin: self.ignoreStdin, compress: self.compress)
    }
}

/// What is printed, and how.
public struct OutputOptions: ParsableArguments, Sendable {
    public init() {}

    @Flag(name: [.customShort("v"), .long], help: "Print the request as well as the response.")
    public var verbose = false

    @Flag(name: [.customShort("h"), .long], help: "Print only the response head (status line and headers).")
    public var headers = false

    @Flag(name: [.customShort("b"), .long], help: "Print only the response body.")
    public var body = false

    @Option(name: [.customShort("p"), .customLong("print")], help: ArgumentHelp(
        "What to print, as httpie: H request head, B request body, h response head, b response body (e.g. 'Hh').",
        valueName: "what"))
    public var print: String?

    @Option(help: ArgumentHelp(
        "Formatting: all (indent and color), colors, format (indent only), none. Default: all on a terminal, none otherwise; NO_COLOR turns colors off.",
        valueName: "style"))
    public var pretty: PrettyStyle?

    @Flag(name: [.customShort("q"), .long], help: "No progress bar and no warnings on standard error.")
    public var quiet = false

    var values: FetchSettings.Output {
        FetchSettings.Output(
            verbose: self.verbose, headers: self.headers, body: self.body, print: self.print, pretty: self.pretty,
            quiet: self.quiet)
    }
}

public enum PrettyStyle: String, ExpressibleByArgument, Sendable, CaseIterable {
    case all, colors, format, none
}

/// Saving the body to a file.
public struct DownloadOptions: ParsableArguments, Sendable {
    public init() {}

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write the body to FILE instead of standard output.", valueName: "file"))
    public var output: String?

    @Flag(name: [.customShort("d"), .long], help: ArgumentHelp(
        "Download the body to a file named by Content-Disposition or the URL (never overwriting: name-1, name-2, ...)."))
    public var download = false

    @Flag(name: [.customShort("c"), .customLong("continue")], help: ArgumentHelp(
        "Resume a partial download (with -o FILE, or -d and the name from the URL) by sending Range."))
    public var resume = false

    var values: FetchSettings.Download {
        FetchSettings.Download(output: self.output, download: self.download, resume: self.resume)
    }
}

/// Redirects, timeouts, retries, TLS and where to connect.
public struct ConnectionOptions: ParsableArguments, Sendable {
    public init() {}

    @Flag(name: [.customShort("L"), .customLong("follow")], help: "Follow redirects.")
    public var follow = false

    @Option(help: ArgumentHelp("Most redirects to follow with --follow.", valueName: "n"))
    public var maxRedirects: Int = FetchSettings.Connection().maxRedirects

    @Option(help: ArgumentHelp("Fail when the server sends nothing for this long (seconds).", valueName: "seconds"))
    public var timeout: Double?

    @Option(help: ArgumentHelp("Fail when a connection (TCP and TLS) takes longer than this (seconds).", valueName: "seconds"))
    public var connectTimeout: Double?

    @Option(help: ArgumentHelp("Fail when the whole exchange takes longer than this (seconds).", valueName: "seconds"))
    public var maxTime: Double?

    @Option(help: ArgumentHelp(
        "Retry an idempotent request (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) up to N times after a connection failure, a timeout, or a 408, 429, 500, 502, 503 or 504 response, with exponential backoff.",
        valueName: "n"))
    public var retry: Int = FetchSettings.Connection().retry

    @Option(help: ArgumentHelp("First backoff of --retry; it doubles each time, up to 30 s (a Retry-After header wins).", valueName: "seconds"))
    public var retryDelay: Double = FetchSettings.Connection().retryDelay

    @Flag(help: "Exit with 3, 4 or 5 when the response is 3xx (without --follow), 4xx or 5xx.")
    public var checkStatus = false

    @Flag(name: [.customShort("k"), .long], help: "Do not verify the server's TLS certificate.")
    public var insecure = false

    @Option(help: ArgumentHelp("Trust the CA certificates in this PEM file (instead of the system's).", valueName: "file"))
    public var cacert: String?

    @Option(help: ArgumentHelp("Client certificate chain (PEM).", valueName: "file"))
    public var cert: String?

    @Option(help: ArgumentHelp("Private key of --cert (PEM).", valueName: "file"))
    public var key: String?

    @Option(help: ArgumentHelp("Connect to this Unix domain socket instead of the URL's host.", valueName: "path"))
    public var unixSocket: String?

    @Option(help: ArgumentHelp("With several URLs, how many to fetch at once.", valueName: "n"))
    public var parallel: Int = FetchSettings.Connection().parallel

    var values: FetchSettings.Connection {
        FetchSettings.Connection(
            follow: self.follow, maxRedirects: self.maxRedirects, timeout: self.timeout,
            connectTimeout: self.connectTimeout, maxTime: self.maxTime, retry: self.retry,
            retryDelay: self.retryDelay, checkStatus: self.checkStatus, insecure: self.insecure,
            cacert: self.cacert, cert: self.cert, key: self.key, unixSocket: self.unixSocket,
            parallel: self.parallel)
    }
}
