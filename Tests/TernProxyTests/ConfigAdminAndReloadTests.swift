import XCTest

@testable import TernProxy

/// `admin`, `admin-allow` and `tls-reload-interval`: values read, and each bad value's exact error.
final class ConfigAdminAndReloadTests: XCTestCase {
    private let head = "listen tcp:8080\nroute / { respond 200 }\n"

    func testValues() throws {
        let configuration = try ConfigFixture.parse(
            self.head + "admin tcp:9901:interface=127.0.0.1\nadmin-allow 127.0.0.1 10.0.0.0/8 ::1\ntls-reload-interval 2s"
        )
        XCTAssertEqual(configuration.admin.endpoint, .tcp(port: 9901, interface: "127.0.0.1"))
        XCTAssertEqual(configuration.admin.allow.map(\.description), ["127.0.0.1", "10.0.0.0/8", "::1"])
        XCTAssertEqual(configuration.certificateReloadInterval, .seconds(2))

        let defaults = try ConfigFixture.parse(self.head)
        XCTAssertNil(defaults.admin.endpoint)
        XCTAssertEqual(defaults.admin.allow.map(\.description), ["127.0.0.0/8", "::1"])
        XCTAssertEqual(defaults.certificateReloadInterval, .seconds(10))
        XCTAssertNil(try ConfigFixture.parse(self.head + "tls-reload-interval off").certificateReloadInterval)
    }

    func testAdminErrors() {
        XCTAssertEqual(
            ConfigFixture.errors(self.head + "admin ssl:9901:privateKey=k.pem:certKey=c.pem"),
            ["proxy.conf:3:7: the admin listener speaks plain HTTP: use tcp:PORT[:interface=ADDRESS] or unix:PATH"]
        )
        XCTAssertEqual(
            ConfigFixture.errors(self.head + "admin tcp:8080"),
            ["proxy.conf:3:7: the admin listener's address is already used by the listener at proxy.conf:1:1"]
        )
        XCTAssertEqual(ConfigFixture.errors(self.head + "admin tcp:99999").count, 1)
        XCTAssertEqual(
            ConfigFixture.errors(self.head + "admin tcp:9901\nadmin tcp:9902"),
            ["proxy.conf:4:1: duplicate 'admin' (first at proxy.conf:3:1)"]
        )
    }

    func testAdminAllowErrors() {
        XCTAssertEqual(
            ConfigFixture.errors(self.head + "admin-allow 127.0.0.1 10.0.0.0/33 localhost"),
            [
                "proxy.conf:3:23: expected an IP address or a network like 10.0.0.0/8 or fd00::/8, got '10.0.0.0/33'",
                "proxy.conf:3:35: expected an IP address or a network like 10.0.0.0/8 or fd00::/8, got 'localhost'",
            ]
        )
        XCTAssertEqual(
            ConfigFixture.errors(self.head + "admin-allow"),
            ["proxy.conf:3:1: missing argument to 'admin-allow' (usage: admin-allow ADDRESS[/PREFIX] …)"]
        )
    }

    func testReloadIntervalErrors() {
        XCTAssertEqual(
            ConfigFixture.errors(self.head + "tls-reload-interval soon"),
            ["proxy.conf:3:21: expected a duration like 5s or 500ms, got 'soon'"]
        )
        XCTAssertEqual(
            ConfigFixture.errors(self.head + "tls-reload-interval 10ms"),
            ["proxy.conf:3:21: expected an interval of 100ms or more, or 'off', got '10ms'"]
        )
        XCTAssertEqual(
            ConfigFixture.errors(self.head + "tls-reload-interval 0s"),
            ["proxy.conf:3:21: expected a duration above 0, like 5s or 500ms, got '0s'"]
        )
    }
}
