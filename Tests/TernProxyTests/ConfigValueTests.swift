import XCTest

@testable import TernProxy

final class ConfigValueTests: XCTestCase {
    func testSizesUseBinaryUnits() {
        XCTAssertEqual(ConfigValue.size("0"), 0)
        XCTAssertEqual(ConfigValue.size("512"), 512)
        XCTAssertEqual(ConfigValue.size("10k"), 10 * 1024)
        XCTAssertEqual(ConfigValue.size("10K"), 10 * 1024)
        XCTAssertEqual(ConfigValue.size("10m"), 10 * 1024 * 1024)
        XCTAssertEqual(ConfigValue.size("1g"), 1 << 30)
        XCTAssertEqual(ConfigValue.size("1G"), 1 << 30)
        for bad in ["", "k", "10kb", "1.5m", "-1", "+1", " 1", "1 k", "10t", "99999999999999999999", "9999999999999g", "１"] {
            XCTAssertNil(ConfigValue.size(bad), bad)
        }
    }

    func testDurations() {
        XCTAssertEqual(ConfigValue.duration("0"), .zero)
        XCTAssertEqual(ConfigValue.duration("30"), .seconds(30))
        XCTAssertEqual(ConfigValue.duration("500ms"), .milliseconds(500))
        XCTAssertEqual(ConfigValue.duration("5s"), .seconds(5))
        XCTAssertEqual(ConfigValue.duration("2m"), .seconds(120))
        XCTAssertEqual(ConfigValue.duration("1h"), .seconds(3600))
        XCTAssertEqual(ConfigValue.duration("1d"), .seconds(86400))
        XCTAssertEqual(ConfigValue.duration("1m30s"), .seconds(90))
        XCTAssertEqual(ConfigValue.duration("1s500ms"), .milliseconds(1500))
        for bad in ["", "5x", "s", "1.5s", "-5s", "5S", "5 s", "5sec", "ms", "5s5", "999999999999999999d", "99999999999999999h99999999999999999h"] {
            XCTAssertNil(ConfigValue.duration(bad), bad)
        }
    }

    func testPortsAndStatuses() {
        XCTAssertEqual(ConfigValue.port("1"), 1)
        XCTAssertEqual(ConfigValue.port("65535"), 65535)
        XCTAssertNil(ConfigValue.port("0"))
        XCTAssertNil(ConfigValue.port("65536"))
        XCTAssertNil(ConfigValue.port("http"))
        XCTAssertEqual(ConfigValue.status("100"), 100)
        XCTAssertEqual(ConfigValue.status("599"), 599)
        XCTAssertNil(ConfigValue.status("99"))
        XCTAssertNil(ConfigValue.status("600"))
        XCTAssertNil(ConfigValue.status("0200"))
    }

    func testAddressesAndNames() {
        XCTAssertTrue(ConfigValue.isIPAddress("127.0.0.1"))
        XCTAssertTrue(ConfigValue.isIPAddress("::1"))
        XCTAssertTrue(ConfigValue.isIPAddress("fe80::1"))
        XCTAssertFalse(ConfigValue.isIPAddress("localhost"))
        XCTAssertFalse(ConfigValue.isIPAddress("[::1]"))
        XCTAssertFalse(ConfigValue.isIPAddress(""))
        XCTAssertEqual(ConfigValue.canonicalIPAddress("0:0:0:0:0:0:0:1"), "::1")
        XCTAssertTrue(ConfigValue.isHostName("api.example.com"))
        XCTAssertTrue(ConfigValue.isHostName("app_1"))
        XCTAssertFalse(ConfigValue.isHostName("a..b"))
        XCTAssertFalse(ConfigValue.isHostName("a b"))
        XCTAssertTrue(ConfigValue.isHeaderName("X-User"))
        XCTAssertFalse(ConfigValue.isHeaderName("X User"))
        XCTAssertFalse(ConfigValue.isHeaderName("X:User"))
        XCTAssertFalse(ConfigValue.isHeaderValue("a\nb"))
        XCTAssertTrue(ConfigValue.isHeaderValue("a\tb c"))
    }

    func testEndpointStrings() {
        let ssl = EndpointString(parsing: "ssl:8443:privateKey=key.pem:certKey=cert.pem")
        XCTAssertEqual(ssl.type.text, "ssl")
        XCTAssertEqual(ssl.positional, [.init(text: "8443", offset: 4)])
        XCTAssertEqual(ssl.keywords.map(\.key.text), ["privateKey", "certKey"])
        XCTAssertEqual(ssl.keywords.map(\.value), [.init(text: "key.pem", offset: 20), .init(text: "cert.pem", offset: 36)])

        let escaped = EndpointString(parsing: #"tcp:80:interface=\:\:1"#)
        XCTAssertEqual(escaped.keywords.first?.value.text, "::1")
        let bare = EndpointString(parsing: "tcp:80:interface=::1")
        XCTAssertEqual(bare.keywords.first?.value.text, "::1")
        XCTAssertEqual(bare.positional.map(\.text), ["80"])
        let full = EndpointString(parsing: "tcp:80:interface=2001:db8::7:backlog=5")
        XCTAssertEqual(full.keywords.map(\.value.text), ["2001:db8::7", "5"])
        let bracketed = EndpointString(parsing: "tcp:80:interface=[::1]")
        XCTAssertEqual(bracketed.keywords.first?.value.text, "::1")
        let path = EndpointString(parsing: #"unix:/tmp/a\:b\=c"#)
        XCTAssertEqual(path.positional.map(\.text), ["/tmp/a:b=c"])
    }

    func testEditDistanceSuggestions() {
        XCTAssertEqual(ConfigVocabulary.nearest(to: "lisen", among: ["listen", "limits"]), "listen")
        XCTAssertEqual(ConfigVocabulary.nearest(to: "max_body", among: ["max-body"]), "max-body")
        XCTAssertEqual(ConfigVocabulary.nearest(to: "vai", among: ["via"]), "via")
        XCTAssertNil(ConfigVocabulary.nearest(to: "banana", among: ["listen", "via"]))
        XCTAssertNil(ConfigVocabulary.nearest(to: String(repeating: "x", count: 500), among: ["listen"]))
    }
}
