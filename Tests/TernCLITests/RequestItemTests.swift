import Testing
@testable import TernCLI

@Suite struct RequestItemTests {
    @Test func header() throws {
        let item = try RequestItem.parse("Accept:application/json")
        #expect(item == RequestItem(kind: .header, name: "Accept", value: "application/json"))
    }

    @Test func headerValueKeepsColonsAndSpaces() throws {
        let item = try RequestItem.parse("Referer:http://example.org/a b")
        #expect(item.kind == .header)
        #expect(item.name == "Referer")
        #expect(item.value == "http://example.org/a b")
    }

    @Test func everySeparator() throws {
        let cases: [(String, RequestItem.Kind, String, String)] = [
            ("q==swift", .query, "q", "swift"),
            ("name=Ada", .dataString, "name", "Ada"),
            ("age:=36", .rawJSON, "age", "36"),
            ("tags:=[\"a\",1]", .rawJSON, "tags", "[\"a\",1]"),
            ("photo@me.png", .fileUpload, "photo", "me.png"),
            ("bio=@bio.txt", .dataStringFromFile, "bio", "bio.txt"),
            ("meta:=@meta.json", .rawJSONFromFile, "meta", "meta.json"),
            ("X-Token:@token.txt", .headerFromFile, "X-Token", "token.txt"),
            ("q==@q.txt", .queryFromFile, "q", "q.txt"),
            ("X-Empty;", .emptyHeader, "X-Empty", ""),
            ("User-Agent:", .header, "User-Agent", ""),
        ]
        for (text, kind, name, value) in cases {
            let item = try RequestItem.parse(text)
            #expect(item.kind == kind, "\(text)")
            #expect(item.name == name, "\(text)")
            #expect(item.value == value, "\(text)")
        }
    }

    @Test func earliestSeparatorWins() throws {
        // '=' comes before ':' so this is a data field whose value contains a colon.
        let item = try RequestItem.parse("url=http://x")
        #expect(item.kind == .dataString)
        #expect(item.value == "http://x")
        // '==' in the value of a query parameter stays in the value.
        let query = try RequestItem.parse("expr==a==b")
        #expect(query.kind == .query)
        #expect(query.value == "a==b")
        // A header whose value contains '='.
        let header = try RequestItem.parse("Cookie:a=b")
        #expect(header.kind == .header)
        #expect(header.value == "a=b")
    }

    @Test func backslashEscapesSeparatorsInTheName() throws {
        let item = try RequestItem.parse("foo\\=bar=baz")
        #expect(item.kind == .dataString)
        #expect(item.name == "foo=bar")
        #expect(item.value == "baz")
        let colon = try RequestItem.parse("a\\:b==c")
        #expect(colon.kind == .query)
        #expect(colon.name == "a:b")
    }

    @Test func uploadWithMediaType() throws {
        let item = try RequestItem.parse("file@data.bin;type=image/png")
        #expect(item.kind == .fileUpload)
        #expect(item.value == "data.bin")
        #expect(item.mediaType == "image/png")
    }

    @Test func rejectsMalformedItems() {
        #expect(throws: RequestItemError.self) { try RequestItem.parse("nothing") }
        #expect(throws: RequestItemError.self) { try RequestItem.parse(":value") }
        #expect(throws: RequestItemError.self) { try RequestItem.parse("=value") }
        #expect(throws: RequestItemError.self) { try RequestItem.parse("Bad Header:x") }
        #expect(throws: RequestItemError.self) { try RequestItem.parse("n:={oops") }
        #expect(throws: RequestItemError.self) { try RequestItem.parse("X;value") }
    }
}

@Suite struct CommandLineTargetTests {
    @Test func urlOnly() throws {
        let t = try CommandLineTarget.parse(["example.org"])
        #expect(t.method == nil)
        #expect(t.urls == ["example.org"])
        #expect(t.items.isEmpty)
    }

    @Test func methodURLAndItems() throws {
        let t = try CommandLineTarget.parse(["POST", "localhost:8080/x", "a=b", "X-Y:z"])
        #expect(t.method == "POST")
        #expect(t.urls == ["localhost:8080/x"])
        #expect(t.items.map(\.kind) == [.dataString, .header])
    }

    @Test func lowercaseKnownMethod() throws {
        let t = try CommandLineTarget.parse(["get", "localhost:8080"])
        #expect(t.method == "GET")
        #expect(t.urls == ["localhost:8080"])
    }

    @Test func firstArgumentIsTheURLWhenFollowedByAnItem() throws {
        let t = try CommandLineTarget.parse(["localhost", "foo:bar"])
        #expect(t.method == nil)
        #expect(t.urls == ["localhost"])
        #expect(t.items == [RequestItem(kind: .header, name: "foo", value: "bar")])
    }

    @Test func customUppercaseMethod() throws {
        let t = try CommandLineTarget.parse(["PURGE", "example.org"])
        #expect(t.method == "PURGE")
    }

    @Test func severalURLs() throws {
        let t = try CommandLineTarget.parse(["GET", "http://a/1", "https://b/2", ":8080/3", "X:y", "q==1"])
        #expect(t.urls == ["http://a/1", "https://b/2", ":8080/3"])
        #expect(t.items.count == 2)
    }
}

@Suite struct URLTextTests {
    @Test func schemeDefaulting() {
        #expect(URLText.normalize("example.org/x") == "http://example.org/x")
        #expect(URLText.normalize("localhost:8080/x") == "http://localhost:8080/x")
        #expect(URLText.normalize(":8080/x") == "http://localhost:8080/x")
        #expect(URLText.normalize(":/x") == "http://localhost/x")
        #expect(URLText.normalize(":") == "http://localhost")
        #expect(URLText.normalize("https://a/b") == "https://a/b")
        #expect(URLText.normalize("HTTP://a/b") == "HTTP://a/b")
    }

    @Test func queryAppending() {
        let items = [("q", "a b&c"), ("ü", "1")]
        #expect(URLText.appendingQuery(items, to: "http://h/p") == "http://h/p?q=a%20b%26c&%C3%BC=1")
        #expect(URLText.appendingQuery([("x", "1")], to: "http://h/p?a=1#frag") == "http://h/p?a=1&x=1#frag")
        #expect(URLText.appendingQuery([], to: "http://h/p") == "http://h/p")
    }

    @Test func unixSocket() {
        #expect(URLText.unixSocketURL("http://localhost/v1/x?y=1", socketPath: "/tmp/a.sock")
                == "http+unix://%2Ftmp%2Fa.sock/v1/x?y=1")
        #expect(URLText.unixSocketURL("http://localhost", socketPath: "/s") == "http+unix://%2Fs/")
    }

    @Test func components() {
        let c = URLText.components("http://u@h:80/p?q#f")
        #expect(c?.scheme == "http")
        #expect(c?.authority == "u@h:80")
        #expect(c?.pathAndQuery == "/p?q")
        #expect(URLText.host(ofAuthority: "u@h:80") == "h")
        #expect(URLText.host(ofAuthority: "[::1]:80") == "[::1]")
    }
}
