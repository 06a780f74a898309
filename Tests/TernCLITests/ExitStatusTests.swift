import Testing
import TernClient
@testable import TernCLI

@Suite struct ExitStatusTests {
    @Test func codesAreDistinct() {
        let codes = TernCLI.ExitStatus.allCases.map(\.rawValue)
        #expect(Set(codes).count == codes.count)
    }

    @Test func mapsClientErrors() {
        let cases: [(TernClientError.Code, TernClientError.Phase, TernCLI.ExitStatus)] = [
            (.resolveFailed, .resolve, .resolveFailed),
            (.connectionRefused, .connect, .connectFailed),
            (.connectFailed, .connect, .connectFailed),
            (.tlsFailed, .tls, .tlsFailed),
            (.connectTimeout, .connect, .timeout),
            (.tlsHandshakeTimeout, .tls, .timeout),
            (.readTimeout, .read, .timeout),
            (.deadlineExceeded, .request, .timeout),
            (.tooManyRedirects, .redirect, .tooManyRedirects),
            (.redirectLoop, .redirect, .tooManyRedirects),
            (.invalidURL, .request, .usage),
            (.unsupportedScheme, .request, .usage),
            (.remoteClosed, .read, .error),
            (.invalidResponse, .read, .error),
        ]
        for (code, phase, status) in cases {
            #expect(TernCLI.ExitStatus.forError(TernClientError(code: code, phase: phase)) == status, "\(code)")
        }
        // An unexpected code still maps by phase.
        #expect(TernCLI.ExitStatus.forError(TernClientError(code: .writeFailed, phase: .tls)) == .tlsFailed)
    }

    @Test func httpStatusLikeHttpie() {
        #expect(TernCLI.ExitStatus.forHTTPStatus(200, following: false) == .success)
        #expect(TernCLI.ExitStatus.forHTTPStatus(302, following: false) == .http3xx)
        #expect(TernCLI.ExitStatus.forHTTPStatus(304, following: true) == .success)
        #expect(TernCLI.ExitStatus.forHTTPStatus(404, following: true) == .http4xx)
        #expect(TernCLI.ExitStatus.forHTTPStatus(503, following: false) == .http5xx)
    }

    @Test func messagesAreOneLine() {
        let error = TernClientError(code: .connectionRefused, phase: .connect, address: "127.0.0.1:1", detail: "ECONNREFUSED")
        #expect(TernCLI.ExitStatus.message(for: error) == "connection refused (127.0.0.1:1)")
        let resolve = TernClientError(code: .resolveFailed, phase: .resolve, address: "nope.invalid:80", detail: "long text")
        #expect(TernCLI.ExitStatus.message(for: resolve) == "could not resolve host 'nope.invalid'")
        for code in [TernClientError.Code.tlsFailed, .readTimeout, .tooManyRedirects, .invalidResponse, .shutdown] {
            #expect(!TernCLI.ExitStatus.message(for: TernClientError(code: code, phase: .read, address: "h:1", detail: "d")).contains("\n"))
        }
    }

    @Test func helpTableListsEveryCode() {
        for status in TernCLI.ExitStatus.allCases where status != .interrupted {
            #expect(TernCLI.ExitStatus.helpTable.contains(" \(status.rawValue)   "), "\(status)")
        }
    }
}

@Suite struct ProgressBarTests {
    @Test func withTotal() {
        let line = ProgressBar.line(received: 500_000, total: 1_000_000, elapsed: 1, width: 80)
        #expect(line.hasPrefix(" 50% ["))
        #expect(line.hasSuffix("] 500 kB / 1.0 MB  500 kB/s  ETA 0:01"))
        #expect(line.count <= 80)
    }

    @Test func withoutTotal() {
        #expect(ProgressBar.line(received: 1_500, total: nil, elapsed: 0.5) == "1.5 kB  3.0 kB/s")
    }

    @Test func units() {
        #expect(ProgressBar.bytes(999) == "999 B")
        #expect(ProgressBar.bytes(12_345_678) == "12 MB")
        #expect(ProgressBar.bytes(2_500_000_000) == "2.5 GB")
        #expect(ProgressBar.duration(65) == "1:05")
        #expect(ProgressBar.duration(3_725) == "1:02:05")
    }
}
