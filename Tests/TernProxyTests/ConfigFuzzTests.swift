import TernTestSupport
import XCTest

@testable import TernProxy

/// Random and mutated inputs, from a fixed seed so a failure replays: the reader must never trap,
/// and every error must point inside the text it was given.
final class ConfigFuzzTests: XCTestCase {
    private typealias Generator = SeededGenerator

    private static let seeds: [String] = [
        ConfigExampleTests.example,
        "listen tcp:8080\nroute / { respond 200 \"ok\" }\n",
        "listen ssl:8443:privateKey=k.pem:certKey=c.pem { certificate cert=a.pem key=a.key }\nlisten tcp:80 { redirect-https 8443 }\nupstream u { server [::1]:1 weight=3; balance hash header X-U }\nroute *.a.com/x/ { proxy u; strip-prefix /x }\n",
        "listen tcp:1:interface=\\:\\:1; limits { max-body 0; keepalive-timeout 0 }; error-page 500 502 x; access-log - format=json\nroute / { proxy https://[::1]:8443; timeout request 0 }",
        "listen tcp:8080\nlimits { rate-limit 10r/s burst=20; max-uri-length 8k; header-timeout 10s; max-connections 100; max-header-count 50 }\nroute / { respond 200 }",
    ]

    private static let words: [String] =
        ConfigVocabulary.directives.map(\.name) + [
            "{", "}", ";", "\n", "\"", "\\", "#", "=", ":", "/", "*.", "[", "]", "tcp:", "ssl:", "unix:", "http://", "https://",
            "interface=", "privateKey=", "certKey=", "weight=", "expect=", "0", "1", "65535", "65536", "99999999999999999999",
            "10k", "1g", "5s", "500ms", "1m30s", "off", "on", "auto", "hash", "header", "client-ip", "set", "add", "remove",
            "::1", "127.0.0.1", "r/s", "r/m", "10r/s", "burst=", "0.5r/s", "é", "\u{0}", "\u{7F}", "\r", "\t", " ", "  ", "redis://x", "memory",
        ]

    func testRandomAndMutatedInputsNeverCrashAndErrorsPointInsideTheText() {
        var random = Generator(state: 0x7E24_C0DE)
        let iterations = 20_000
        var parsed = 0
        for iteration in 0..<iterations {
            let bytes: [UInt8]
            switch iteration % 4 {
            case 0: bytes = Self.randomBytes(&random)
            case 1: bytes = Self.randomWords(&random)
            default: bytes = Self.mutate(Array(Self.seeds.randomElement(using: &random)!.utf8), &random)
            }
            do {
                let configuration = try ProxyConfiguration.parse(bytes: bytes, file: "fuzz.conf", baseDirectory: "/b")
                XCTAssertFalse(configuration.listeners.isEmpty, "a configuration without a listener parsed")
                parsed += 1
            } catch {
                self.check(error, in: bytes, iteration: iteration)
            }
        }
        // The mutations must leave some inputs valid, or the valid paths went untested.
        XCTAssertGreaterThan(parsed, iterations / 50)
    }

    private func check(_ errors: ConfigErrors, in bytes: [UInt8], iteration: Int) {
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        XCTAssertFalse(errors.errors.isEmpty, "#\(iteration): thrown without errors")
        XCTAssertLessThanOrEqual(errors.errors.count, ConfigErrors.limit)
        var previous = (line: 0, column: 0)
        for error in errors.errors {
            let location = error.location
            XCTAssertEqual(location.file, "fuzz.conf")
            XCTAssertFalse(error.message.isEmpty)
            guard location.line >= 1, location.line <= lines.count, location.column >= 1,
                location.column <= lines[location.line - 1].count + 1
            else {
                XCTFail("#\(iteration): \(error) is outside the text:\n\(String(decoding: bytes, as: UTF8.self))")
                return
            }
            XCTAssertTrue(
                (location.line, location.column) >= previous, "#\(iteration): errors out of order: \(errors)")
            previous = (location.line, location.column)
        }
    }

    private static func randomBytes(_ random: inout Generator) -> [UInt8] {
        let count = Int.random(in: 0...200, using: &random)
        return (0..<count).map { _ in
            // Mostly printable ASCII and structure, some high and control bytes.
            switch Int.random(in: 0..<10, using: &random) {
            case 0: UInt8.random(in: 0...255, using: &random)
            case 1: [UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: ";"), UInt8(ascii: "\n"), UInt8(ascii: "\"")].randomElement(using: &random)!
            default: UInt8.random(in: 0x20...0x7E, using: &random)
            }
        }
    }

    private static func randomWords(_ random: inout Generator) -> [UInt8] {
        let count = Int.random(in: 0...60, using: &random)
        var text = ""
        for _ in 0..<count {
            text += Self.words.randomElement(using: &random)!
            text += ["", " ", " ", "\n"].randomElement(using: &random)!
        }
        return Array(text.utf8)
    }

    private static func mutate(_ seed: [UInt8], _ random: inout Generator) -> [UInt8] {
        var bytes = seed
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = Int.random(in: 0...bytes.count, using: &random)
            switch Int.random(in: 0..<7, using: &random) {
            case 0:  // delete a run
                let end = min(bytes.count, position + Int.random(in: 1...8, using: &random))
                bytes.removeSubrange(position..<end)
            case 1:  // insert a word
                bytes.insert(contentsOf: Array(Self.words.randomElement(using: &random)!.utf8), at: position)
            case 2:  // replace a byte
                if position < bytes.count { bytes[position] = UInt8.random(in: 0...255, using: &random) }
            case 3:  // duplicate a line
                let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                if let line = lines.randomElement(using: &random) {
                    bytes.insert(contentsOf: Array(line) + [UInt8(ascii: "\n")], at: bytes.firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0)
                }
            case 4:  // drop a line
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
                if !lines.isEmpty { lines.remove(at: Int.random(in: 0..<lines.count, using: &random)) }
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            case 5:  // change a digit
                if let index = bytes.indices.filter({ ConfigValue.isDigit(bytes[$0]) }).randomElement(using: &random) {
                    bytes[index] = UInt8(ascii: "0") + UInt8.random(in: 0...9, using: &random)
                }
            default:  // nothing: some seeds stay valid
                break
            }
        }
        return bytes
    }
}

extension ConfigFuzzTests {
    /// Large hostile files stay cheap: errors are capped while collected, not only when reported.
    func testHugeFilesOfGarbageAreBounded() throws {
        for unit in ["\u{0}", "lisen x\n", "{", "}", "\"", "a=b:c "] {
            let text = String(repeating: unit, count: 200_000 / unit.utf8.count)
            let start = ContinuousClock.now
            let errors = ConfigFixture.errors(text)
            XCTAssertFalse(errors.isEmpty, unit.debugDescription)
            XCTAssertLessThanOrEqual(errors.count, ConfigErrors.limit, unit.debugDescription)
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(20), unit.debugDescription)
        }
    }
}
