import TernClient

/// `tern`'s exit codes. 0–6 are httpie's; 7–9 split httpie's generic 1 by failure; 64 is sysexits' EX_USAGE.
public enum ExitStatus: Int32, Sendable, CaseIterable {
    case success = 0
    /// Any other failure: an I/O error, a response that is not HTTP, a file that cannot be written.
    case error = 1
    /// Connect, TLS handshake, read or whole-request timeout (`--connect-timeout`, `--timeout`, `--max-time`).
    case timeout = 2
    /// `--check-status`: the final response was 3xx (and `--follow` was not given).
    case http3xx = 3
    /// `--check-status`: the response was 4xx.
    case http4xx = 4
    /// `--check-status`: the response was 5xx.
    case http5xx = 5
    /// More than `--max-redirects` redirects, or a redirect loop.
    case tooManyRedirects = 6
    /// The host name could not be resolved.
    case resolveFailed = 7
    /// The connection was refused (or could not be made at all).
    case connectFailed = 8
    /// The TLS handshake failed: certificate not trusted, wrong host name, protocol mismatch.
    case tlsFailed = 9
    /// Bad usage: unknown option, malformed request item or URL.
    case usage = 64
    /// Interrupted (SIGINT).
    case interrupted = 130

    /// The table printed by `tern --help` and kept in the README.
    public static let helpTable = """
          0   success
          1   other error (I/O, invalid response, file not writable, ...)
          2   timeout (connect, TLS handshake, read, --max-time)
          3   HTTP 3xx with --check-status (and no --follow)
          4   HTTP 4xx with --check-status
          5   HTTP 5xx with --check-status
          6   too many redirects (--max-redirects) or a redirect loop
          7   host name could not be resolved
          8   connection refused or could not connect
          9   TLS failure (certificate, host name, handshake)
         64   bad usage (unknown option, malformed item or URL)
        """

    /// httpie's `--check-status` rule: 3xx counts only when redirects are not being followed.
    public static func forHTTPStatus(_ code: Int, following: Bool) -> ExitStatus {
        switch code {
        case 300..<400: return following ? .success : .http3xx
        case 400..<500: return .http4xx
        case 500..<600: return .http5xx
        default: return .success
        }
    }

    public static func forError(_ error: TernClientError) -> ExitStatus {
        switch error.code {
        case .resolveFailed: return .resolveFailed
        case .connectionRefused, .connectFailed: return .connectFailed
        case .tlsFailed: return .tlsFailed
        case .connectTimeout, .tlsHandshakeTimeout, .readTimeout, .deadlineExceeded, .poolWaitTimeout: return .timeout
        case .tooManyRedirects, .redirectLoop: return .tooManyRedirects
        case .invalidURL, .unsupportedScheme: return .usage
        case .cancelled: return .interrupted
        default:
            switch error.phase {
            case .resolve: return .resolveFailed
            case .tls: return .tlsFailed
            case .connect: return .connectFailed
            default: return .error
            }
        }
    }

    /// A short reason for a TLS failure, from NIOSSL's (long) error text.
    static func tlsReason(_ detail: String?) -> String {
        let text = detail ?? ""
        let reasons: [(String, String)] = [
            ("CERTIFICATE_VERIFY_FAILED", "the server's certificate is not trusted (use --cacert FILE, or -k to skip verification)"),
            ("failedToValidateHostname", "the server's certificate does not match the host name (-k skips verification)"),
            ("WRONG_VERSION_NUMBER", "the server does not speak TLS here (try http://)"),
            ("CERTIFICATE_REQUIRED", "the server requires a client certificate (--cert and --key)"),
            ("TLSV1_ALERT_PROTOCOL_VERSION", "no TLS version in common with the server"),
            ("NO_SHARED_CIPHER", "no cipher in common with the server"),
            ("HANDSHAKE_FAILURE", "the server refused the handshake"),
            ("uncleanShutdown", "the server closed the connection during the handshake"),
        ]
        for (needle, reason) in reasons where text.contains(needle) { return reason }
        if text.isEmpty { return "handshake error" }
        return String(text.prefix(200))
    }

    /// One line for stderr, without the `tern: ` prefix.
    public static func message(for error: TernClientError, url: String? = nil) -> String {
        let at = error.address.map { " (\($0))" } ?? ""
        let detail = error.detail.map { ": \($0)" } ?? ""
        switch error.code {
        case .resolveFailed:
            let host = error.address.map { " '\(URLText.host(ofAuthority: $0))'" } ?? ""
            return "could not resolve host\(host)"
        case .connectionRefused: return "connection refused\(at)"
        case .connectFailed: return "could not connect\(at)\(detail)"
        case .connectTimeout: return "timed out connecting\(at)"
        case .tlsFailed: return "TLS handshake failed\(at): \(Self.tlsReason(error.detail))"
        case .tlsHandshakeTimeout: return "timed out in the TLS handshake\(at)"
        case .readTimeout: return "timed out waiting for the server\(at)"
        case .deadlineExceeded: return "request timed out (--max-time)\(at)"
        case .poolWaitTimeout: return "timed out waiting for a free connection\(at)"
        case .tooManyRedirects: return "too many redirects\(url.map { " from \($0)" } ?? "")\(detail)"
        case .redirectLoop: return "redirect loop\(url.map { " from \($0)" } ?? "")\(detail)"
        case .invalidURL: return "invalid URL\(url.map { " '\($0)'" } ?? "")\(detail)"
        case .unsupportedScheme: return "unsupported URL scheme\(url.map { " in '\($0)'" } ?? "")\(detail)"
        case .remoteClosed: return "the server closed the connection before the response was complete\(at)"
        case .invalidResponse: return "the server sent an invalid HTTP response\(at)\(detail)"
        case .writeFailed: return "could not send the request\(at)\(detail)"
        case .decompressionFailed: return "could not decompress the response body\(at)\(detail)"
        case .bodyTooLarge: return "response body too large\(detail)"
        case .cancelled: return "cancelled"
        default: return "\(error.code) during \(error.phase.rawValue)\(at)\(detail)"
        }
    }
}
