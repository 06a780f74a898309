import XCTest

@testable import TernProxy

final class ConfigParserTests: XCTestCase {
    private func parse(_ text: String) -> (tree: String, errors: [String]) {
        let (tokens, _) = ConfigLexer.tokenize(Array(text.utf8), file: "f")
        let (directives, errors) = ConfigParser.parse(tokens)
        return (Self.show(directives), errors.map(\.description))
    }

    /// `name(args)@line:column{…}`
    private static func show(_ directives: [ConfigDirective]) -> String {
        directives.map { directive in
            var text = directive.name.text + "(" + directive.arguments.map(\.text).joined(separator: ",") + ")"
            text += "@\(directive.location.line):\(directive.location.column)"
            if let block = directive.block { text += "{" + Self.show(block.directives) + "}" }
            return text
        }.joined(separator: " ")
    }

    func testDirectivesEndAtNewlinesSemicolonsAndBraces() {
        let (tree, errors) = self.parse("a 1 2\nb; c 3 { d 4; e } f\n")
        XCTAssertEqual(errors, [])
        XCTAssertEqual(tree, "a(1,2)@1:1 b()@2:1 c(3)@2:4{d(4)@2:10 e()@2:15} f()@2:19")
    }

    func testABraceOnTheNextLineOpensTheBlock() {
        XCTAssertEqual(self.parse("upstream app\n\n{\n server a:1\n}\nx").tree, "upstream(app)@1:1{server(a:1)@4:2} x()@6:1")
    }

    func testBlankLinesCommentsAndStraySemicolonsAreNothing() {
        XCTAssertEqual(self.parse("\n# c\n;;\n  a # c\n").tree, "a()@4:3")
    }

    func testAStrayClosingBrace() {
        let (tree, errors) = self.parse("a\n}\nb")
        XCTAssertEqual(errors, ["f:2:1: unexpected '}' with no block open"])
        XCTAssertEqual(tree, "a()@1:1 b()@3:1")
    }

    func testAnUnclosedBlock() {
        let (tree, errors) = self.parse("route / {\n proxy app\n")
        XCTAssertEqual(errors, ["f:1:9: '{' is never closed"])
        XCTAssertEqual(tree, "route(/)@1:1{proxy(app)@2:2}")
    }

    func testABlockWithoutADirective() {
        let (tree, errors) = self.parse("a;\n{ b }\nc")
        XCTAssertEqual(errors, ["f:2:1: '{' with no directive before it"])
        XCTAssertEqual(tree, "a()@1:1 c()@3:1")
    }

    func testDeepNestingIsBoundedNotAStackOverflow() {
        let (_, errors) = self.parse(String(repeating: "a {", count: 100_000))
        XCTAssertTrue(errors.contains("f:1:3: '{' is never closed"), "\(errors)")
        XCTAssertTrue(errors.contains("f:1:27: blocks are nested too deeply"), "\(errors)")
        let (tree, closed) = self.parse(String(repeating: "a {", count: 20) + String(repeating: "}", count: 20) + " z")
        XCTAssertEqual(closed, ["f:1:27: blocks are nested too deeply"])
        XCTAssertTrue(tree.hasSuffix(" z()@1:82"), tree)
    }

    func testQuotedBracesAreWords() {
        XCTAssertEqual(self.parse("respond 200 \"{\"").tree, "respond(200,{)@1:1")
    }
}
