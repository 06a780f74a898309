import XCTest

@testable import TernProxy

final class ConfigLexerTests: XCTestCase {
    /// Tokens as `kind@line:column[=text]`, for compact comparison.
    private func lex(_ text: String) -> (tokens: [String], errors: [String]) {
        self.lex(bytes: Array(text.utf8))
    }

    private func lex(bytes: [UInt8]) -> (tokens: [String], errors: [String]) {
        let (tokens, errors) = ConfigLexer.tokenize(bytes, file: "f")
        let shown = tokens.map { token -> String in
            let at = "\(token.location.line):\(token.location.column)"
            switch token.kind {
            case .word: return (token.isQuoted ? "q" : "w") + "@\(at)=\(token.text)"
            case .openBrace: return "{@\(at)"
            case .closeBrace: return "}@\(at)"
            case .semicolon: return ";@\(at)"
            case .newline: return "nl@\(at)"
            case .end: return "end@\(at)"
            }
        }
        return (shown, errors.map(\.description))
    }

    func testWordsPunctuationAndPositions() {
        let (tokens, errors) = self.lex("listen tcp:8080 {\n  redirect-https 8443;}\n")
        XCTAssertEqual(errors, [])
        XCTAssertEqual(
            tokens,
            [
                "w@1:1=listen", "w@1:8=tcp:8080", "{@1:17", "nl@1:18", "w@2:3=redirect-https", "w@2:18=8443", ";@2:22",
                "}@2:23", "nl@2:24", "end@3:1",
            ])
    }

    func testBracesAndSemicolonsEndWords() {
        XCTAssertEqual(self.lex("a{b}c;d").tokens, ["w@1:1=a", "{@1:2", "w@1:3=b", "}@1:4", "w@1:5=c", ";@1:6", "w@1:7=d", "end@1:8"])
    }

    func testCommentsRunToTheEndOfTheLineButOnlyWhereATokenStarts() {
        XCTAssertEqual(
            self.lex("# hello { \"\nproxy http://h/#frag # real comment\n").tokens,
            ["nl@1:12", "w@2:1=proxy", "w@2:7=http://h/#frag", "nl@2:36", "end@3:1"])
    }

    func testQuotedStringsWithEscapes() {
        let (tokens, errors) = self.lex(#"respond 200 "a \"b\" \\ c\n\t\:d" "{" "" x"y z"w"#)
        XCTAssertEqual(errors, [])
        XCTAssertEqual(
            tokens,
            ["w@1:1=respond", "w@1:9=200", "q@1:13=a \"b\" \\ c\n\t\\:d", "q@1:35={", "q@1:39=", "q@1:42=xy zw", "end@1:49"])
    }

    func testBackslashesInWordsAreKeptForEndpointStrings() {
        XCTAssertEqual(self.lex(#"tcp:80:interface=\:\:1"#).tokens, [#"w@1:1=tcp:80:interface=\:\:1"#, "end@1:23"])
    }

    func testAnUnterminatedStringIsReportedWhereItStartsAndLexingGoesOn() {
        let (tokens, errors) = self.lex("respond 200 \"ok\nlisten tcp:1")
        XCTAssertEqual(errors, [#"f:1:13: unterminated string: add the closing '"' on the same line"#])
        XCTAssertEqual(tokens, ["w@1:1=respond", "w@1:9=200", "q@1:13=ok", "nl@1:16", "w@2:1=listen", "w@2:8=tcp:1", "end@2:13"])
    }

    func testAnUnterminatedStringAtTheEndOfTheFile() {
        XCTAssertEqual(self.lex("a \"b\\").errors, [#"f:1:3: unterminated string: add the closing '"' on the same line"#])
    }

    func testControlCharactersAreErrorsWithTheirPosition() {
        let (tokens, errors) = self.lex("ab\u{07}c \"x\u{00}y\" # z\u{1B}\n\r")
        XCTAssertEqual(
            errors,
            [
                "f:1:3: control character U+0007 is not allowed", "f:1:8: control character U+0000 is not allowed",
                "f:1:15: control character U+001B is not allowed", "f:2:1: control character U+000D is not allowed",
            ])
        XCTAssertEqual(tokens, ["w@1:1=abc", "q@1:6=xy", "nl@1:16", "end@2:2"])
    }

    func testCRLFLineEndsAndTabs() {
        let (tokens, errors) = self.lex("a\tb\r\n\"c\"\r\n")
        XCTAssertEqual(errors, [])
        XCTAssertEqual(tokens, ["w@1:1=a", "w@1:3=b", "nl@1:5", "q@2:1=c", "nl@2:5", "end@3:1"])
    }

    func testColumnsCountUnicodeScalarsNotBytes() {
        XCTAssertEqual(self.lex("é ü \"ß\" x").tokens, ["w@1:1=é", "w@1:3=ü", "q@1:5=ß", "w@1:9=x", "end@1:10"])
    }

    func testInvalidUTF8IsAnErrorPerBadSequenceNeverACrash() {
        // Overlong "/", a lone continuation byte, a surrogate, past U+10FFFF, a truncated sequence.
        let bytes: [UInt8] = [0x61, 0xC0, 0xAF, 0x20, 0x80, 0x20, 0xED, 0xA0, 0x80, 0x20, 0xF4, 0x90, 0x80, 0x80, 0x20, 0xE2, 0x82]
        let (tokens, errors) = self.lex(bytes: bytes)
        XCTAssertEqual(
            errors,
            [
                "f:1:2: invalid UTF-8 (byte 0xC0)", "f:1:4: invalid UTF-8 (byte 0x80)", "f:1:6: invalid UTF-8 (byte 0xED)",
                "f:1:8: invalid UTF-8 (byte 0xF4)", "f:1:10: invalid UTF-8 (byte 0xE2)",
            ])
        XCTAssertEqual(tokens, ["w@1:1=a", "end@1:11"])
    }

    func testAByteOrderMarkIsSkipped() {
        XCTAssertEqual(self.lex("\u{FEFF}listen").tokens, ["w@1:1=listen", "end@1:7"])
    }

    func testEmptyInput() {
        XCTAssertEqual(self.lex("").tokens, ["end@1:1"])
    }
}
