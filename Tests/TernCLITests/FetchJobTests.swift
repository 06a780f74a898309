import HTTPTypes
import Testing
import TernClient
@testable import TernCLI

@Suite struct FetchJobTests {
    func job(_ arguments: [String], tty: Bool = false, stdin: [UInt8]? = nil, noColor: Bool = false) throws -> FetchJob {
        let command = try FetchCommand.parse(arguments)
        let environment = Environment(stdoutIsTTY: tty, stderrIsTTY: tty, noColor: noColor, readStdin: { stdin })
        return try FetchJob.make(from: command.settings, environment: environment)
    }

    func headers(_ job: FetchJob) -> [String] {
        job.headerFields.map { "\($0.name.rawName): \($0.value)" }
    }

    @Test func defaultsForAGet() throws {
        let job = try job(["example.org/x", "q==1"])
        #expect(job.method == .get)
        #expect(job.urls == ["http://example.org/x?q=1"])
        #expect(headers(job) == ["Accept: */*", "Accept-Encoding: gzip, deflate"])
        #expect(job.body == nil)
        #expect(job.configuration.redirects == .disabled)
        #expect(job.output.responseBody && !job.output.responseHead && !job.output.format && !job.output.colors)
    }

    @Test func terminalOutput() throws {
        let job = try job([":8080/"], tty: true)
        #expect(job.urls == ["http://localhost:8080/"])
        #expect(job.output.responseHead && job.output.responseBody && job.output.format && job.output.colors)
        #expect(!(try self.job([":8080/"], tty: true, noColor: true)).output.colors)
    }

    @Test func jsonData() throws {
        let job = try job(["PUT", "h/x", "a=1", "Accept:text/plain", "X-A:1", "X-A:2"])
        #expect(job.method == .put)
        #expect(headers(job) == ["Accept: text/plain", "Accept-Encoding: gzip, deflate", "Content-Type: application/json", "X-A: 1", "X-A: 2"])
        #expect(job.body == Array(#"{"a": "1"}"#.utf8))
    }

    @Test func stdinBody() throws {
        let job = try job(["h/x"], stdin: Array("raw".utf8))
        #expect(job.method == .post)
        #expect(job.body == Array("raw".utf8))
        #expect(try self.job(["--ignore-stdin", "h/x"], stdin: Array("raw".utf8)).body == nil)
    }

    @Test func connectionOptions() throws {
        let job = try job(["-L", "--max-redirects", "3", "--timeout", "1.5", "--connect-timeout", "2", "--max-time", "9",
                           "-k", "--no-compress", "--retry", "2", "h"])
        #expect(job.configuration.redirects == .follow(max: 3))
        #expect(job.configuration.readTimeout == .milliseconds(1500))
        #expect(job.configuration.connectTimeout == .seconds(2))
        #expect(job.maxTime == .seconds(9))
        #expect(job.configuration.tls.verification == TLSSettings.Verification.none)
        #expect(job.configuration.decompression == .disabled)
        #expect(!headers(job).contains { $0.hasPrefix("Accept-Encoding") })
        #expect(job.retries == 2)
    }

    @Test func unixSocket() throws {
        let job = try job(["--unix-socket", "/tmp/s.sock", "http://api.local/v1?x=1"])
        #expect(job.requestURLs == ["http+unix://%2Ftmp%2Fs.sock/v1?x=1"])
        #expect(headers(job).contains("Host: api.local"))
    }

    @Test func outputSelection() throws {
        let verbose = try job(["-v", "h"]).output
        #expect(verbose.requestHead && verbose.requestBody && verbose.responseHead && verbose.responseBody)
        let headOnly = try job(["-h", "h"], tty: true).output
        #expect(headOnly.responseHead && !headOnly.responseBody)
        let download = try job(["-d", "h"], tty: true).output
        #expect(!download.responseHead && !download.responseBody && download.progress)
        let print = try job(["--print", "Hb", "h"]).output
        #expect(print.requestHead && !print.requestBody && !print.responseHead && print.responseBody)
    }

    @Test func fetchIsParsedDirectlyAndRootFlagsGoThroughTheRoot() throws {
        #expect(try TernMain.parse(["GET", "h", "-v"]) is FetchCommand)
        #expect(try TernMain.parse(["fetch", "h"]) is FetchCommand)
        #expect(throws: (any Error).self) { try TernMain.parse(["--version"]) }
        #expect(throws: (any Error).self) { try TernMain.parse(["--generate-completion-script=bash"]) }
        #expect(TernMain.asksForFetchHelp(["GET", "h", "--help"]))
        #expect(TernMain.asksForFetchHelp(["help"]))
        #expect(!TernMain.asksForFetchHelp(["GET", "h", "--", "--help"]))
    }

    @Test func plainCommandLinesSkipArgumentParserWithTheSameSettings() throws {
        let lines: [[String]] = [
            ["example.org"], ["GET", "http://127.0.0.1:8080/x"], ["POST", ":8080/users", "name=Ada", "age:=36", "X-Trace:abc"],
            ["http://a/1", "http://a/2"], ["PUT", "h/x", "q==1", "f@file", "Accept:"],
            ["-v", "h"], ["h", "--follow"], ["-vL", "GET", "h"], ["-hbq", "h"], ["-I", "h", "-k"], ["--no-compress", "h"],
            ["--compress", "h"], ["-j", "POST", "h", "a=1"], ["-f", "POST", "h", "a=1"], ["--multipart", "POST", "h", "a=1"],
            ["--check-status", "--ignore-stdin", "--quiet", "--download", "h"], ["--verbose", "--headers", "--body", "--insecure", "h"],
            ["-d", "h", "--head", "--json"],
        ]
        for line in lines {
            let plain = try #require(FetchSettings.plain(line, subcommands: TernMain.subcommandWords), "\(line)")
            #expect(plain == (try FetchCommand.parse(line)).settings, "\(line)")
        }
        // Options with values, unknown or repeated flags, `--`, `-`, conflicts, a subcommand or help:
        // argument-parser's business.
        let others: [[String]] = [
            ["GET", "h", "-"], ["-o", "f", "h"], ["--timeout", "1", "h"], ["h", "--max-redirects=3"], ["-vx", "h"],
            ["-vv", "h"], ["-v", "-v", "h"], ["--", "-v"], ["h", "--help"], ["--version"], ["-j", "-f", "h"],
            ["--compress", "--no-compress", "h"], ["-c", "-o", "f", "h"], ["-v"], ["proxy"], ["fetch", "h"], ["help"], [],
        ]
        for line in others {
            #expect(FetchSettings.plain(line, subcommands: TernMain.subcommandWords) == nil, "\(line)")
        }
        // The option groups' defaults are the plain ones.
        #expect(try FetchCommand.parse(["h"]).settings == FetchSettings(arguments: ["h"]))
    }

    @Test func usageErrors() {
        #expect(throws: (any Error).self) { try FetchCommand.parse(["--continue", "h"]) }
        #expect(throws: (any Error).self) { try FetchCommand.parse(["--form", "--multipart", "h"]) }
        #expect(throws: (any Error).self) { try FetchCommand.parse(["--print", "x", "h"]) }
        #expect(throws: UsageError.self) { try self.job(["ftp://h/x"]) }
        #expect(throws: UsageError.self) { try self.job(["-o", "f", "http://a/1", "http://a/2"]) }
    }
}
