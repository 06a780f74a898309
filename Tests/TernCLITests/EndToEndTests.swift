import Foundation
import Testing

/// Runs the built `tern` binary against `TestServer` on 127.0.0.1.
@Suite(.serialized) struct EndToEndTests {
    let server = TestServer.shared

    func tern(_ arguments: String..., stdin: Data? = nil, directory: URL? = nil) throws -> TernProcess.Result {
        try TernProcess.run(arguments, stdin: stdin, directory: directory)
    }

    func url(_ path: String) -> String { self.server.url(path) }

    // MARK: Output

    @Test func bodyOnAPipeIsByteExact() throws {
        let result = try tern(url("/bytes/200000"))
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        #expect(Array(result.stdout) == TestHandler.pattern(200_000))
    }

    @Test func jsonOnAPipeIsUnchanged() throws {
        let result = try tern("GET", url("/json"))
        #expect(result.status == 0)
        #expect(result.out == #"{"z":1,"a":[true,null,"x"],"o":{}}"#)
    }

    @Test func prettyFormatKeepsKeyOrder() throws {
        let result = try tern("--pretty=format", url("/json"))
        #expect(result.out == """
            {
                "z": 1,
                "a": [
                    true,
                    null,
                    "x"
                ],
                "o": {}
            }

            """)
    }

    @Test func headersOnly() throws {
        let result = try tern("-h", url("/text"))
        #expect(result.status == 0)
        #expect(result.out == "HTTP/1.1 200 OK\ncontent-type: text/plain\ncontent-length: 6\n\n"
                || result.out == "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 6\n\n")
    }

    @Test func headAndBodyWithPrint() throws {
        let result = try tern("--print=hb", url("/text"))
        #expect(result.out.hasPrefix("HTTP/1.1 200 OK\n"))
        #expect(result.out.hasSuffix("\n\nhello\n"))
    }

    @Test func headRequest() throws {
        let result = try tern("-I", url("/text"))
        #expect(result.status == 0)
        #expect(result.out.hasPrefix("HTTP/1.1 200 OK\n"))
        #expect(!result.out.contains("hello"))
    }

    @Test func verboseShowsTheRequest() throws {
        let result = try tern("-v", "--pretty=none", "POST", url("/echo"), "name=Ada")
        #expect(result.status == 0)
        #expect(result.out.hasPrefix("POST /echo HTTP/1.1\n"))
        #expect(result.out.contains("Content-Type: application/json\n"))
        #expect(result.out.contains("\n{\"name\": \"Ada\"}\n"))
        #expect(result.out.contains("HTTP/1.1 200 OK\n"))
    }

    @Test func colorsOnlyWhenAskedAndNoColorUnset() throws {
        let colored = try tern("--pretty=all", url("/json"))
        #expect(colored.out.contains("\u{1B}[34m\"z\"\u{1B}[0m: \u{1B}[36m1\u{1B}[0m"))
        #expect(colored.out.hasPrefix("\u{1B}[34mHTTP/1.1\u{1B}[0m \u{1B}[32m200 OK\u{1B}[0m\n") == false)
        let noColor = try TernProcess.run(["--pretty=all", url("/json")], environment: ["NO_COLOR": "1"])
        #expect(!noColor.out.contains("\u{1B}"))
        #expect(noColor.out.hasPrefix("{\n    \"z\": 1,"))
    }

    @Test func decompressesByDefault() throws {
        let result = try tern(url("/gzip"))
        #expect(result.status == 0)
        #expect(result.out == String(repeating: "hello gzip\n", count: 20))
        let echo = try tern(url("/echo"))
        #expect(echo.out.contains("Accept-Encoding: gzip, deflate\n"))
        let raw = try tern("--no-compress", url("/gzip"))
        #expect(Array(raw.stdout) == TestServer.gzipBody)
    }

    @Test func unixSocket() throws {
        let result = try tern("--unix-socket", server.unixSocketPath, "http://api.local/echo", "q==1")
        #expect(result.status == 0)
        #expect(result.out.hasPrefix("GET /echo?q=1\n"))
        #expect(result.out.contains("Host: api.local\n"))
        let missing = try tern("--unix-socket", "/nonexistent/tern.sock", "http://localhost/")
        #expect(missing.status == 8)
        #expect(missing.err.hasPrefix("tern: "))
    }

    // MARK: Request building

    @Test func itemsReachTheServer() throws {
        let result = try tern("POST", url("/echo"), "name=Ada", "age:=36", "X-Trace:abc", "q==1", "b==x y")
        #expect(result.status == 0)
        let lines = result.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "POST /echo?q=1&b=x%20y")
        #expect(lines.contains("X-Trace: abc"))
        #expect(lines.contains("Content-Type: application/json"))
        #expect(lines.contains("Accept: application/json, */*;q=0.5"))
        #expect(result.out.hasSuffix("\n\n{\"name\": \"Ada\", \"age\": 36}"))
    }

    @Test func dataMakesThePOSTDefault() throws {
        let result = try tern(url("/echo"), "a=1")
        #expect(result.out.hasPrefix("POST /echo\n"))
    }

    @Test func urlencodedForm() throws {
        let result = try tern("-f", "POST", url("/echo"), "a=1", "b=x y")
        #expect(result.out.contains("Content-Type: application/x-www-form-urlencoded; charset=utf-8\n"))
        #expect(result.out.hasSuffix("\n\na=1&b=x+y"))
    }

    @Test func multipartUpload() throws {
        let directory = try TernProcess.temporaryDirectory()
        let file = directory.appendingPathComponent("note.txt")
        try Data("file body".utf8).write(to: file)
        let result = try tern("-f", "POST", url("/echo"), "title=cat", "doc@\(file.path)")
        #expect(result.status == 0)
        #expect(result.out.contains("Content-Type: multipart/form-data; boundary="))
        #expect(result.out.contains("Content-Disposition: form-data; name=\"doc\"; filename=\"note.txt\"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n"))
        #expect(result.out.contains("Content-Disposition: form-data; name=\"title\"\r\n\r\ncat\r\n"))
    }

    @Test func pipedBody() throws {
        let body = Data("{\"raw\": [1, 2, 3]}\n".utf8)
        let result = try tern("PUT", url("/echo"), stdin: body)
        #expect(result.status == 0)
        #expect(result.out.hasPrefix("PUT /echo\n"))
        #expect(result.out.lowercased().contains("content-length: \(body.count)\n"))
        #expect(result.stdout.suffix(body.count) == body)
    }

    @Test func pipedBodyAndDataItemsConflict() throws {
        let result = try tern("POST", url("/echo"), "a=1", stdin: Data("x".utf8))
        #expect(result.status == 64)
        #expect(result.err.hasPrefix("tern: "))
    }

    @Test func authAndBearer() throws {
        let basic = try tern(url("/echo"), "-u", "ada:secret")
        #expect(basic.out.contains("Authorization: Basic YWRhOnNlY3JldA==\n"))
        let bearer = try tern(url("/echo"), "--bearer", "t0k")
        #expect(bearer.out.contains("Authorization: Bearer t0k\n"))
    }

    @Test func userAgentCanBeReplacedOrDropped() throws {
        let replaced = try tern(url("/echo"), "User-Agent:probe/1")
        #expect(replaced.out.contains("User-Agent: probe/1\n"))
        #expect(!replaced.out.contains("tern/"))
        let dropped = try tern(url("/echo"), "User-Agent:")
        #expect(!dropped.out.lowercased().contains("user-agent"))
    }

    // MARK: Redirects and retries

    @Test func followsRedirects() throws {
        let result = try tern("-L", url("/redirect/3"))
        #expect(result.status == 0)
        #expect(result.out == "done\n")
    }

    @Test func doesNotFollowByDefault() throws {
        let result = try tern("--check-status", url("/redirect/1"))
        #expect(result.status == 3)
        #expect(result.err == "tern: HTTP 302 Found from \(url("/redirect/1"))\n")
    }

    @Test func tooManyRedirects() throws {
        let result = try tern("-L", "--max-redirects", "2", url("/redirect/5"))
        #expect(result.status == 6)
        #expect(result.err.hasPrefix("tern: too many redirects"))
        #expect(result.err.filter { $0 == "\n" }.count == 1)
        let loop = try tern("-L", url("/loop"))
        #expect(loop.status == 6)
    }

    @Test func retriesIdempotentRequests() throws {
        let key = UUID().uuidString
        let result = try tern("--retry", "3", "--retry-delay", "0.01", url("/flaky/\(key)/2"))
        #expect(result.status == 0)
        #expect(result.out == "ok\n")
        #expect(result.err.components(separatedBy: "retrying").count == 3)
    }

    @Test func doesNotRetryPOST() throws {
        let key = UUID().uuidString
        let result = try tern("--retry", "3", "--retry-delay", "0.01", "--check-status", "POST", url("/flaky/\(key)/1"), "a=1")
        #expect(result.status == 5)
        #expect(result.out == "busy\n")
    }

    // MARK: Exit codes

    @Test func checkStatus() throws {
        #expect(try tern("--check-status", url("/status/404")).status == 4)
        #expect(try tern("--check-status", url("/status/503")).status == 5)
        #expect(try tern("--check-status", url("/status/204")).status == 0)
        let without = try tern(url("/status/500"))
        #expect(without.status == 0)
        #expect(without.out == "status 500\n")
    }

    @Test func connectionRefused() throws {
        let result = try tern("http://127.0.0.1:1/")
        #expect(result.status == 8)
        #expect(result.err == "tern: connection refused (127.0.0.1:1)\n")
    }

    @Test func nameResolutionFailure() throws {
        let result = try tern("http://no-such-host.invalid/")
        #expect(result.status == 7)
        #expect(result.err == "tern: could not resolve host 'no-such-host.invalid'\n")
    }

    @Test func tlsFailure() throws {
        // Our plain-HTTP server cannot complete a TLS handshake.
        let result = try tern("https://127.0.0.1:\(server.port)/text")
        #expect(result.status == 9)
        #expect(result.err.hasPrefix("tern: TLS"))
        #expect(result.err.filter { $0 == "\n" }.count == 1)
    }

    @Test func readTimeout() throws {
        let result = try tern("--timeout", "0.3", url("/slow/5000"))
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("tern: timed out"))
    }

    @Test func wholeRequestDeadline() throws {
        let result = try tern("--max-time", "0.5", url("/stall"))
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("tern: "))
    }

    @Test func badUsage() throws {
        let unknown = try tern("--bogus", url("/text"))
        #expect(unknown.status == 64)
        #expect(unknown.err.hasPrefix("tern: "))
        #expect(unknown.err.filter { $0 == "\n" }.count == 1)
        let item = try tern(url("/text"), "n:={oops")
        #expect(item.status == 64)
        #expect(item.err.hasPrefix("tern: invalid request item"))
        let scheme = try tern("ftp://127.0.0.1/x")
        #expect(scheme.status == 64)
        let missing = try tern()
        #expect(missing.status == 64)
    }

    // MARK: Downloads

    @Test func outputFile() throws {
        let directory = try TernProcess.temporaryDirectory()
        let file = directory.appendingPathComponent("out.bin")
        let result = try tern("-o", file.path, url("/bytes/70000"))
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.isEmpty)
        #expect(Array(try Data(contentsOf: file)) == TestHandler.pattern(70_000))
    }

    @Test func downloadNamesTheFile() throws {
        let directory = try TernProcess.temporaryDirectory()
        let first = try tern("-d", url("/download/1000"), directory: directory)
        #expect(first.status == 0)
        #expect(Array(try Data(contentsOf: directory.appendingPathComponent("report.bin"))) == TestHandler.pattern(1000))
        let second = try tern("-d", url("/download/10"), directory: directory)
        #expect(second.status == 0)
        #expect(Array(try Data(contentsOf: directory.appendingPathComponent("report.bin-1"))) == TestHandler.pattern(10))
        let fromURL = try tern("--download", url("/bytes/5"), directory: directory)
        #expect(fromURL.status == 0)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("5").path))
    }

    @Test func resumesAPartialDownload() throws {
        let directory = try TernProcess.temporaryDirectory()
        let file = directory.appendingPathComponent("part.bin")
        // A first part that differs from the server's bytes proves that only the rest was fetched.
        try Data(repeating: 0xEE, count: 300).write(to: file)
        let result = try tern("-c", "-o", file.path, url("/bytes/1000"))
        #expect(result.status == 0)
        #expect(Array(try Data(contentsOf: file)) == Array(repeating: 0xEE, count: 300) + TestHandler.pattern(1000, from: 300))
        // Already complete: 416 from the server, nothing changes.
        let again = try tern("-c", "-o", file.path, url("/bytes/1000"))
        #expect(again.status == 0)
        #expect(try Data(contentsOf: file).count == 1000)
    }

    @Test func downloadErrorIsNotSaved() throws {
        let directory = try TernProcess.temporaryDirectory()
        let result = try tern("--check-status", "-d", url("/status/404"), directory: directory)
        #expect(result.status == 4)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    // MARK: Several URLs

    @Test func parallelFetchesPrintInOrder() throws {
        let start = Date()
        let result = try tern("GET", url("/slow/700?id=a"), url("/slow/350?id=b"), url("/slow/0?id=c"))
        let elapsed = Date().timeIntervalSince(start)
        #expect(result.status == 0)
        #expect(result.out == "a\nb\nc\n")
        #expect(elapsed < 1.0, "fetched one after another? \(elapsed) s")
    }

    @Test func parallelOneAtATime() throws {
        let result = try tern("--parallel", "1", url("/slow/50?id=1"), url("/slow/0?id=2"))
        #expect(result.out == "1\n2\n")
    }

    @Test func parallelWithAFailure() throws {
        let result = try tern(url("/slow/100?id=a"), "http://127.0.0.1:1/", url("/slow/0?id=c"))
        #expect(result.status == 8)
        #expect(result.out == "a\nc\n")
        #expect(result.err == "tern: connection refused (127.0.0.1:1)\n")
    }

    // MARK: Help and completions

    @Test func helpReadsLikeAManual() throws {
        let result = try tern("--help")
        #expect(result.status == 0)
        for section in ["REQUEST ITEMS", "EXIT STATUS", "EXAMPLES", "--follow", "--download", "--check-status"] {
            #expect(result.out.contains(section), "\(section)")
        }
        #expect(result.out.contains(" 7   host name could not be resolved"))
    }

    @Test func explicitFetchSubcommand() throws {
        let result = try tern("fetch", "GET", url("/text"))
        #expect(result.status == 0)
        #expect(result.out == "hello\n")
        let help = try tern("fetch", "--help")
        #expect(help.out.contains("EXIT STATUS"))
    }

    @Test func version() throws {
        let result = try tern("--version")
        #expect(result.status == 0)
        #expect(result.out == "tern 0.1.0\n")
    }

    @Test func completionScripts() throws {
        for shell in ["bash", "zsh", "fish"] {
            let result = try tern("--generate-completion-script", shell)
            #expect(result.status == 0)
            #expect(result.out.contains("tern"))
            #expect(result.out.contains("--follow"))
        }
    }
}
