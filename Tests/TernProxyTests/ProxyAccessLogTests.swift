import Foundation
import TernTestSupport
import XCTest

@testable import TernProxy

/// The access log as nginx writes it: `combined` with `$time_local`, and JSON with `$time_iso8601`.
final class ProxyAccessLogTests: ProxyTestCase {
    func testCombinedAndJSONLinesLookLikeNginxs() async throws {
        let origin = try await self.origin("o")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tern-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var lines: [String: String] = [:]
        for format in ["combined", "json"] {
            let path = directory.appendingPathComponent("\(format).log").path
            let configuration = try ProxyConfiguration.parse(
                """
                listen tcp:0:interface=127.0.0.1
                workers 1
                access-log \(path) format=\(format)
                route / { proxy http://127.0.0.1:\(origin.port) }
                """, file: "test.conf", baseDirectory: NSTemporaryDirectory())
            let server = try ProxyServer(configuration: configuration)
            let port = try await server.start()[0].port!
            let (status, _, _) = try await self.get(port, "/logged?x=1")
            XCTAssertEqual(status, 200)
            // A browser-like GET, whose fields the proxy never reads into values: the log reads
            // Referer and User-Agent from their bytes.
            let browser = [("User-Agent", "Mozilla/5.0 (test) Gecko/20100101"), ("Accept", "text/html"), ("Referer", "http://a.example/p?q=1"),
                ("Accept-Language", "en")]
            let (second, _, _) = try await self.get(port, "/browsed", headers: browser)
            XCTAssertEqual(second, 200)
            try await server.shutdown(timeout: .seconds(2))
            var text = ""
            for _ in 0..<40 where text.isEmpty {
                text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                if text.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            lines[format] = text.split(separator: "\n").first.map(String.init) ?? ""
            lines[format + "2"] = text.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        }
        let browsed = try XCTUnwrap(lines["combined2"])
        XCTAssertNotNil(
            browsed.range(of: #""GET /browsed HTTP/1\.1" 200 \d+ "http://a\.example/p\?q=1" "Mozilla/5\.0 \(test\) Gecko/20100101"$"#, options: .regularExpression),
            browsed)
        let combined = try XCTUnwrap(lines["combined"])
        XCTAssertNotNil(
            combined.range(
                of: #"^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /logged\?x=1 HTTP/1\.1" 200 \d+ "-" "[^"]*"$"#,
                options: .regularExpression),
            combined)
        let json = try XCTUnwrap(lines["json"])
        XCTAssertNotNil(
            json.range(of: #"^\{"time":"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00","client":"127\.0\.0\.1","method":"GET","uri":"/logged\?x=1","status":200,"#, options: .regularExpression),
            json)
    }

    func testLogTimesFormat() {
        // 2026-12-02 17:18:22 UTC
        let times = DateCache.formatLogTimes(1_796_231_902)
        XCTAssertEqual(times.local, "02/Dec/2026:17:18:22 +0000")
        XCTAssertEqual(times.iso8601, "2026-12-02T17:18:22+00:00")
        XCTAssertEqual(DateCache.formatLogTimes(0).local, "01/Jan/1970:00:00:00 +0000")
    }
}
