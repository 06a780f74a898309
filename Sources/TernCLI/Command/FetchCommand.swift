import ArgumentParser

/// `tern [METHOD] URL [URL…] [ITEM…]`: one HTTP request per URL, printed like httpie.
public struct FetchCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "tern - send HTTP requests and print or save the responses (the default command).",
        usage: """
            tern [METHOD] URL [URL ...] [ITEM ...] [OPTIONS]
              tern fetch [METHOD] URL [URL ...] [ITEM ...] [OPTIONS]
            """,
        discussion: FetchCommand.manual,
        helpNames: [.long])

    @Argument(help: ArgumentHelp(
        "[METHOD] URL [URL ...] [ITEM ...]: the method (default GET, or POST when there is data), one or more URLs, and request items (see REQUEST ITEMS).",
        valueName: "method-url-items"))
    public var arguments: [String] = []

    @OptionGroup(title: "Request options") public var request: RequestOptions
    @OptionGroup(title: "Output options") public var output: OutputOptions
    @OptionGroup(title: "Download options") public var download: DownloadOptions
    @OptionGroup(title: "Connection options") public var connection: ConnectionOptions

    public init() {}

    /// The parsed options as plain values.
    var settings: FetchSettings {
        var settings = FetchSettings(arguments: self.arguments)
        settings.request = self.request.values
        settings.output = self.output.values
        settings.download = self.download.values
        settings.connection = self.connection.values
        return settings
    }

    public mutating func validate() throws {
        if let problem = self.settings.problems() { throw ValidationError(problem) }
    }

    public func run() async throws {
        let status = await Self.fetch(self.settings, environment: .current)
        if status != .success { throw ExitCode(status.rawValue) }
    }

    /// Plans the job (a usage problem prints one `tern: …` line and gives 64), then fetches.
    static func fetch(_ settings: FetchSettings, environment: Environment) async -> ExitStatus {
        let job: FetchJob
        do {
            if settings.arguments.isEmpty { throw UsageError(message: "missing URL (usage: tern [METHOD] URL [ITEM ...])") }
            job = try FetchJob.make(from: settings, environment: environment)
        } catch let error as UsageError {
            Terminal.stderr.write("tern: \(error.message)\n")
            return .usage
        } catch {
            Terminal.stderr.write("tern: \(error)\n")
            return .usage
        }
        return await Fetcher(job: job).run()
    }

    /// Printed before the options: what the positional arguments mean.
    static let manual = """
        Sends one HTTP request per URL and prints the response as httpie does:
        pretty on a terminal, byte for byte into a pipe or a file.

        REQUEST ITEMS
          Header:value   a request header ('Header:' drops a default header,
                         'Header;' sends it empty, 'Header:@file' reads the value)
          name==value    a query-string parameter, percent-encoded for you
          field=value    a data field: a JSON string, or a form field with --form
          field:=json    a raw JSON value: age:=36 admin:=true tags:='["a","b"]'
          field@file     a file upload: multipart/form-data
                         ('field@file;type=image/png' sets the part's type)
          field=@file    a data field read from a file ('field:=@file': JSON)
          A backslash escapes a separator inside a name: 'a\\=b=c' is field 'a=b'.
        """

    /// Printed after the options by `tern --help`: the rest of the manual.
    static let epilogue = """
        REQUEST
          Without METHOD, tern sends GET, or POST when there are data items or a
          piped body. Data items become a JSON object unless --form or --multipart
          is given. A piped standard input is sent as the body, as it is (never
          together with data items). A URL without a scheme gets http://, and
          ':8080/x' means http://localhost:8080/x. Responses are asked for
          compressed (gzip, deflate) and decompressed (--no-compress: not).

        OUTPUT
          On a terminal: the response head, then the body, JSON indented and
          colored in the server's key order. Into a pipe or a file: the body bytes
          exactly as received. -v adds the request, -h prints the head only, -b the
          body only, --print chooses parts (H B h b). With -o FILE or -d the body
          goes to a file, with a progress bar on standard error when that is a
          terminal; -c resumes a partial file with a Range request.

        SEVERAL URLS
          URLs after the first need a scheme (http://, https://) or the ':port/path'
          form. They are fetched at once (up to --parallel) over one connection
          pool, with the same items, and printed in command-line order. The exit
          status is that of the first URL that failed.

        EXIT STATUS
        \(ExitStatus.helpTable)
          Every failure prints one line on standard error, starting with 'tern: '.

        EXAMPLES
          tern example.org
          tern POST :8080/users name=Ada age:=36 X-Trace:abc
          tern -f POST :8080/upload title=cat photo@cat.png
          echo '{"a": 1}' | tern PUT :8080/doc
          tern -h -L http://example.org/old
          tern -d https://example.org/file.tar.gz
          tern -c -o file.tar.gz https://example.org/file.tar.gz
          tern --check-status --retry 3 GET :8080/health
          tern http://127.0.0.1:8080/a http://127.0.0.1:8080/b --parallel 2
          tern --unix-socket /run/docker.sock http://localhost/v1.43/info

        ENVIRONMENT
          NO_COLOR   when set (and not empty), output is never colored.

        SHELL COMPLETION
          tern --generate-completion-script bash|zsh|fish > FILE
        """
}

/// A usage problem found after parsing (a bad URL, a file that cannot be read).
struct UsageError: Error {
    var message: String
}
