import Foundation
import HTTPTypes
import NIOCore
import TernClient

/// What the process sees of its surroundings; a value so that tests can fake it.
public struct Environment: Sendable {
    public var stdoutIsTTY: Bool
    public var stderrIsTTY: Bool
    public var noColor: Bool
    /// Reads the request body from standard input, or nil when stdin is not a pipe or file.
    public var readStdin: @Sendable () throws -> [UInt8]?

    public static var current: Environment {
        Environment(
            stdoutIsTTY: Terminal.stdout.isTTY,
            stderrIsTTY: Terminal.stderr.isTTY,
            noColor: ProcessInfo.processInfo.environment["NO_COLOR"].map { !$0.isEmpty } ?? false,
            readStdin: { StandardInput.carriesBody ? try StandardInput.readAll() : nil })
    }
}

/// Which parts of the exchange are printed, and how.
public struct OutputSettings: Sendable, Hashable {
    public var requestHead = false
    public var requestBody = false
    public var responseHead = false
    public var responseBody = false
    /// Indent JSON.
    public var format = false
    public var colors = false
    /// Progress bar and notes on stderr.
    public var progress = false
    public var quiet = false

    public init() {}

    public var palette: Palette { self.colors ? .ansi : .none }

    /// httpie's rules: `--print` wins, then -v, -h, -b; by default head and body on a terminal,
    /// the body alone otherwise; when downloading, nothing unless asked.
    static func make(_ options: FetchSettings.Output, head: Bool, downloading: Bool, environment: Environment) -> OutputSettings {
        var settings = OutputSettings()
        let what: String
        if let print = options.print {
            what = print
        } else if options.verbose {
            what = "HBhb"
        } else if options.headers {
            what = "h"
        } else if options.body {
            what = "b"
        } else if downloading {
            what = ""
        } else if head {
            what = "h"
        } else {
            what = environment.stdoutIsTTY ? "hb" : "b"
        }
        settings.requestHead = what.contains("H")
        settings.requestBody = what.contains("B")
        settings.responseHead = what.contains("h")
        settings.responseBody = what.contains("b") && !downloading
        let style = options.pretty ?? (environment.stdoutIsTTY ? .all : .none)
        settings.format = style == .all || style == .format
        settings.colors = (style == .all || style == .colors) && !environment.noColor
        settings.quiet = options.quiet
        settings.progress = environment.stderrIsTTY && !options.quiet
        return settings
    }
}

/// Where a download goes.
public struct DownloadSettings: Sendable, Hashable {
    /// `-o FILE`; nil: pick the name from the response (`-d`).
    public var path: String?
    public var resume: Bool
}

/// Everything one invocation will do, decided before any I/O on the network.
public struct FetchJob: Sendable {
    public var method: HTTPRequest.Method
    /// The URLs as the user means them (scheme added, query appended), for display and file names.
    public var urls: [String]
    /// The URLs the agent is given (`http+unix://…` under `--unix-socket`).
    public var requestURLs: [String]
    public var headerFields: HTTPFields
    public var body: [UInt8]?
    public var output: OutputSettings
    public var download: DownloadSettings?
    public var configuration: Agent.Configuration
    public var maxTime: TimeAmount?
    public var retries: Int
    public var retryDelay: Double
    public var checkStatus: Bool
    public var follow: Bool
    public var parallel: Int

    static let idempotentMethods: Set<HTTPRequest.Method> = [.get, .head, .put, .delete, .options, .trace]

    public var isIdempotent: Bool { Self.idempotentMethods.contains(self.method) }

    static func make(from settings: FetchSettings, environment: Environment) throws -> FetchJob {
        let target = try CommandLineTarget.parse(settings.arguments)
        let options = settings.request
        let encoding: BodyEncoding = options.multipart ? .multipart : (options.form ? .form : .json)
        let plan = try RequestPlan.build(items: target.items, encoding: encoding)

        // The body: data items, or standard input.
        var body = plan.body
        var contentType = plan.contentType
        if !options.ignoreStdin, let stdin = try environment.readStdin(), !stdin.isEmpty {
            if plan.hasData {
                throw UsageError(message: "a piped body and data items cannot be mixed (use --ignore-stdin)")
            }
            body = stdin
            contentType = options.form ? "application/x-www-form-urlencoded; charset=utf-8" : "application/json"
        }

        // The method.
        let methodName = options.head ? "HEAD" : (target.method ?? (body == nil ? "GET" : "POST"))
        guard let method = HTTPRequest.Method(methodName) else {
            throw UsageError(message: "invalid method '\(methodName)'")
        }

        // The URLs.
        var urls: [String] = []
        var requestURLs: [String] = []
        for raw in target.urls {
            let url = URLText.appendingQuery(plan.query, to: URLText.normalize(raw))
            guard let scheme = URLText.scheme(of: url), ["http", "https", "http+unix", "https+unix"].contains(scheme) else {
                throw UsageError(message: "unsupported URL scheme in '\(raw)' (use http:// or https://)")
            }
            guard let parts = URLText.components(url), !parts.authority.isEmpty else {
                throw UsageError(message: "invalid URL '\(raw)'")
            }
            urls.append(url)
            if let socket = settings.connection.unixSocket {
                requestURLs.append(URLText.unixSocketURL(url, socketPath: socket))
            } else {
                requestURLs.append(url)
            }
        }
        let downloading = settings.download.download || settings.download.output != nil
        if downloading && urls.count > 1 && settings.download.output != nil {
            throw UsageError(message: "--output takes one URL; use --download to save several")
        }

        // Header fields: defaults, then the items in order (an item replaces a default of the same name).
        var configuration = Agent.Configuration()
        var fields: [(name: String, value: String, isDefault: Bool)] = []
        let acceptsJSON = encoding == .json && contentType == "application/json"
        fields.append(("Accept", acceptsJSON ? "application/json, */*;q=0.5" : "*/*", true))
        if options.compress { fields.append(("Accept-Encoding", "gzip, deflate", true)) }
        if let contentType, body != nil { fields.append(("Content-Type", contentType, true)) }
        if let auth = options.auth {
            fields.append(("Authorization", "Basic " + Data(Self.credentials(auth).utf8).base64EncodedString(), true))
        }
        if let bearer = options.bearer { fields.append(("Authorization", "Bearer \(bearer)", true)) }
        if settings.connection.unixSocket != nil, let first = urls.first, let parts = URLText.components(first) {
            let authority = parts.authority.split(separator: "@").last.map(String.init) ?? parts.authority
            fields.append(("Host", authority, true))
        }
        for header in plan.headers {
            let lower = header.name.lowercased()
            if lower == "user-agent" {
                configuration.userAgent = header.value.flatMap { $0.isEmpty ? nil : $0 }
                if header.value == nil || header.value == "" { continue }
            }
            if let value = header.value {
                if let index = fields.firstIndex(where: { $0.isDefault && $0.name.lowercased() == lower }) {
                    fields[index] = (header.name, value, false)
                    fields.removeAll { $0.isDefault && $0.name.lowercased() == lower }
                } else {
                    fields.append((header.name, value, false))
                }
            } else {
                fields.removeAll { $0.name.lowercased() == lower }
            }
        }
        var headerFields = HTTPFields()
        for field in fields {
            guard let name = HTTPField.Name(field.name) else {
                throw UsageError(message: "invalid header name '\(field.name)'")
            }
            headerFields.append(HTTPField(name: name, value: field.value))
        }

        // The agent.
        let connection = settings.connection
        configuration.redirects = connection.follow ? .follow(max: connection.maxRedirects) : .disabled
        configuration.decompression = options.compress ? .enabled(limit: Int.max) : .disabled
        if let timeout = connection.timeout { configuration.readTimeout = Self.amount(timeout) }
        if let timeout = connection.connectTimeout {
            configuration.connectTimeout = Self.amount(timeout)
            configuration.tlsHandshakeTimeout = Self.amount(timeout)
        }
        var tls = TLSSettings()
        if connection.insecure { tls.verification = .none }
        if let cacert = connection.cacert {
            guard FileManager.default.isReadableFile(atPath: cacert) else {
                throw UsageError(message: "cannot read --cacert file '\(cacert)'")
            }
            tls.trustRoots = .pemFile(cacert)
        }
        for file in [connection.cert, connection.key].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: file) {
            throw UsageError(message: "cannot read '\(file)'")
        }
        tls.certificateChainPEMFile = connection.cert
        tls.privateKeyPEMFile = connection.key
        configuration.tls = tls
        configuration.retryStaleConnections = true

        let output = OutputSettings.make(settings.output, head: options.head, downloading: downloading, environment: environment)
        return FetchJob(
            method: method,
            urls: urls,
            requestURLs: requestURLs,
            headerFields: headerFields,
            body: body,
            output: output,
            download: downloading ? DownloadSettings(path: settings.download.output, resume: settings.download.resume) : nil,
            configuration: configuration,
            maxTime: connection.maxTime.map(Self.amount),
            retries: connection.retry,
            retryDelay: connection.retryDelay,
            checkStatus: connection.checkStatus,
            follow: connection.follow,
            parallel: connection.parallel)
    }

    static func amount(_ seconds: Double) -> TimeAmount {
        .nanoseconds(Int64(min(seconds, 1e9) * 1e9))
    }

    /// `user:pass` as given; `user` alone asks for the password on a terminal, else uses an empty one.
    static func credentials(_ auth: String) -> String {
        if auth.contains(":") { return auth }
        if Terminal.stderr.isTTY, isatty(0) == 1, let password = getpass("tern: password for \(auth): ") {
            return auth + ":" + String(cString: password)
        }
        return auth + ":"
    }
}
