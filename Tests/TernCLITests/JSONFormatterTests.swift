import Testing
@testable import TernCLI

@Suite struct JSONFormatterTests {
    let plain = JSONFormatter()

    @Test func keepsKeyOrderAndLiterals() {
        let input = #"{"z":1,"a":[true,false,null,1.50e+3,-0.5],"m":{"s":"x\u00e9\"y"},"e":{},"l":[]}"#
        let expected = """
        {
            "z": 1,
            "a": [
                true,
                false,
                null,
                1.50e+3,
                -0.5
            ],
            "m": {
                "s": "x\\u00e9\\"y"
            },
            "e": {},
            "l": []
        }
        """
        #expect(plain.format(input) == expected)
    }

    @Test func reindentsAlreadyPrettyInput() {
        #expect(plain.format("[\n  1 ,\n\t2 ]\n") == "[\n    1,\n    2\n]")
        #expect(plain.format(" \"just a string\" ") == "\"just a string\"")
    }

    @Test func rejectsInvalidJSON() {
        for bad in ["", "{", "{\"a\" 1}", "[1,]", "01", "tru", "\"\u{1}\"", "{} {}", "1.", "-", "{\"a\":1,}", "[1 2]"] {
            #expect(plain.format(bad) == nil, "\(bad)")
        }
    }

    @Test func depthLimit() {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(JSONFormatter(maxDepth: 256).format(deep) == nil)
        #expect(JSONFormatter(maxDepth: 400).format(deep) != nil)
    }

    @Test func colors() {
        let colored = JSONFormatter(palette: .ansi).format(#"{"k":"v","n":2,"b":null}"#)!
        #expect(colored.contains("\u{1B}[34m\"k\"\u{1B}[0m: \u{1B}[33m\"v\"\u{1B}[0m"))
        #expect(colored.contains("\u{1B}[36m2\u{1B}[0m"))
        #expect(colored.contains("\u{1B}[35mnull\u{1B}[0m"))
    }

    @Test func utf8PassesThrough() {
        #expect(plain.format(#"{"ключ":"значение ✓"}"#) == "{\n    \"ключ\": \"значение ✓\"\n}")
    }
}
