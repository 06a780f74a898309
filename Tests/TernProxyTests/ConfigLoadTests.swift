import Foundation
import XCTest

@testable import TernProxy

/// Shared by the Config*Tests files: parse text as `proxy.conf` in `/etc/tern`.
enum ConfigFixture {
    static let base = "/etc/tern"

    static func parse(_ text: String, file: String = "proxy.conf") throws(ConfigErrors) -> ProxyConfiguration {
        try ProxyConfiguration.parse(text, file: file, baseDirectory: Self.base)
    }

    /// The error lines for text that must not parse (empty if it parses).
    static func errors(_ text: String) -> [String] {
        do {
            _ = try Self.parse(text)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    /// A minimal valid file around `body` (a listener and a route, unless the body has its own).
    static func wrap(_ body: String) -> String {
        var text = ""
        if !body.contains("listen ") { text += "listen tcp:8080\n" }
        text += body + "\n"
        if !body.contains("route ") { text += "route / { respond 200 }\n" }
        return text
    }

    static func location(_ line: Int, _ column: Int, file: String = "proxy.conf") -> SourceLocation {
        SourceLocation(file: file, line: line, column: column)
    }
}

final class ConfigLoadTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        self.directory = NSTemporaryDirectory() + "tern-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    func testLoadResolvesRelativePathsAgainstTheFilesDirectory() throws {
        let path = self.directory + "/proxy.conf"
        let text = """
            listen ssl:8443:privateKey=tls/key.pem:certKey=/abs/cert.pem
            error-page 502 pages/502.mustache
            route / { respond 200 }
            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try ProxyConfiguration.load(path: path)
        XCTAssertEqual(
            configuration.listeners.first?.endpoint,
            .ssl(
                port: 8443, interface: "0.0.0.0",
                certificates: [
                    .init(
                        certificateChainPath: "/abs/cert.pem", privateKeyPath: self.directory + "/tls/key.pem",
                        location: SourceLocation(file: path, line: 1, column: 8))
                ]))
        XCTAssertEqual(configuration.errorPages, [502: self.directory + "/pages/502.mustache"])
    }

    func testLoadReportsAMissingFile() {
        let path = self.directory + "/nope.conf"
        XCTAssertThrowsError(try ProxyConfiguration.load(path: path)) { error in
            XCTAssertEqual((error as? ConfigErrors)?.description, "\(path): cannot read the file: no such file")
        }
    }

    func testLoadReportsADirectory() {
        XCTAssertThrowsError(try ProxyConfiguration.load(path: self.directory)) { error in
            XCTAssertEqual((error as? ConfigErrors)?.description, "\(self.directory): is a directory, not a file")
        }
    }

    func testLoadReportsBytesThatAreNotUTF8WithTheirPosition() throws {
        let path = self.directory + "/proxy.conf"
        var bytes = Array("listen tcp:8080\nroute / { respond 200 \"ok".utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array("\" }\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ProxyConfiguration.load(path: path)) { error in
            XCTAssertEqual((error as? ConfigErrors)?.description, "\(path):2:26: invalid UTF-8 (byte 0xFF)\n\(path):2:27: invalid UTF-8 (byte 0xFE)")
        }
    }

    func testDirectoryOfAPath() {
        XCTAssertEqual(ProxyConfiguration.directory(of: "proxy.conf"), "")
        XCTAssertEqual(ProxyConfiguration.directory(of: "conf/proxy.conf"), "conf")
        XCTAssertEqual(ProxyConfiguration.directory(of: "/proxy.conf"), "/")
        XCTAssertEqual(ProxyConfiguration.directory(of: "/etc/tern/proxy.conf"), "/etc/tern")
    }

    func testRelativePathsStayRelativeWithoutABaseDirectory() throws {
        let configuration = try ProxyConfiguration.parse(
            "listen tcp:1\nerror-page 500 p.mustache\nroute / { respond 200 }", file: "x", baseDirectory: "")
        XCTAssertEqual(configuration.errorPages, [500: "p.mustache"])
    }

    private static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// docs/proxy-conf.md documents every directive, and its first example is a valid file.
    func testTheDocumentationCoversEveryDirectiveAndItsExampleParses() throws {
        let path = Self.repositoryRoot.appendingPathComponent("docs/proxy-conf.md").path
        guard let text = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw XCTSkip("no docs/proxy-conf.md at \(path)")
        }
        for spec in ConfigVocabulary.directives {
            XCTAssertTrue(text.contains("`\(spec.name) ") || text.contains("`\(spec.name)`"), "'\(spec.name)' is not documented")
        }
        let blocks = text.components(separatedBy: "```")
        let example = try XCTUnwrap(blocks.dropFirst(3).first, "no example block")
        XCTAssertNoThrow(try ConfigFixture.parse(example))
    }

    /// The proxy.conf shipped at the root of the repository must always parse.
    func testShippedProxyConfParses() throws {
        let path = Self.repositoryRoot.appendingPathComponent("proxy.conf").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("no proxy.conf at \(path) yet")
        }
        do {
            let configuration = try ProxyConfiguration.load(path: path)
            XCTAssertFalse(configuration.listeners.isEmpty)
        } catch {
            XCTFail("the shipped proxy.conf does not parse:\n\(error)")
        }
    }
}
