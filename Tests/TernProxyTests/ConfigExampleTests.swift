import XCTest

@testable import TernProxy

/// The whole grammar in one file, read into the exact value the proxy runs on.
final class ConfigExampleTests: XCTestCase {
    static let example = """
        # Tern reverse proxy
        listen tcp:8080
        listen tcp:8081:interface=127.0.0.1
        listen ssl:8443:privateKey=key.pem:certKey=cert.pem {
            certificate cert=other.pem key=other.key
        }
        listen tcp:80 { redirect-https 8443 }
        listen unix:/run/tern.sock
        workers 2

        upstream app {
            server 127.0.0.1:9001 weight=2 max-fails=3 fail-timeout=10s max-conns=100
            server [::1]:9002
            server unix:/run/app.sock
            balance least-conn
            health-check path=/health interval=5s timeout=2s expect=200-399 fails=2 passes=1
            scheme https
            ca upstream-ca.pem
        }

        route api.example.com/v1/ {
            proxy app
            strip-prefix /v1
            request-header set X-Env prod
            request-header add X-Tag a
            request-header remove X-Debug
            response-header set X-Frame-Options DENY
            host-header upstream
            timeout connect 5s
            timeout read 60s
            timeout request 30s
            max-body 10m
            cache off
        }
        route *.example.com/ { proxy http://127.0.0.1:9001 }
        route /old/ {
            proxy https://backend.internal
            rewrite-prefix /old/ /new/
        }
        route /healthz { respond 200 "ok" }

        error-page 502,503,504 pages/50x.mustache
        access-log /var/log/tern/access.log format=json
        limits {
            max-header-size 16k
            max-header-count 50
            max-uri-length 4k
            max-body 1g
            header-timeout 10s
            keepalive-timeout 75s
            keepalive-requests 500
            max-connections 2000
        }
        x-forwarded on
        via off
        shutdown-timeout 20s
        cache off
        """

    func testTheExampleParsesToTheExpectedValue() throws {
        let configuration = try ConfigFixture.parse(Self.example)
        let at = { (line: Int, column: Int) in ConfigFixture.location(line, column) }

        var expected = ProxyConfiguration()
        expected.listeners = [
            .init(endpoint: .tcp(port: 8080, interface: "0.0.0.0"), location: at(2, 1)),
            .init(endpoint: .tcp(port: 8081, interface: "127.0.0.1"), location: at(3, 1)),
            .init(
                endpoint: .ssl(
                    port: 8443, interface: "0.0.0.0",
                    certificates: [
                        .init(certificateChainPath: "/etc/tern/cert.pem", privateKeyPath: "/etc/tern/key.pem", location: at(4, 8)),
                        .init(certificateChainPath: "/etc/tern/other.pem", privateKeyPath: "/etc/tern/other.key", location: at(5, 5)),
                    ]),
                location: at(4, 1)),
            .init(endpoint: .tcp(port: 80, interface: "0.0.0.0"), redirectToHTTPSPort: 8443, location: at(7, 1)),
            .init(endpoint: .unix(path: "/run/tern.sock"), location: at(8, 1)),
        ]
        expected.workers = 2

        var first = ProxyConfiguration.Server(host: "127.0.0.1", port: 9001, location: at(12, 5))
        first.weight = 2
        first.maxFails = 3
        first.failTimeout = .seconds(10)
        first.maxConnections = 100
        var socket = ProxyConfiguration.Server(host: "/run/app.sock", port: 0, location: at(14, 5))
        socket.isUnixSocket = true
        var app = ProxyConfiguration.Upstream(
            name: "app", servers: [first, .init(host: "::1", port: 9002, location: at(13, 5)), socket], location: at(11, 1))
        app.balance = .leastConnections
        var check = ProxyConfiguration.HealthCheck()
        check.path = "/health"
        check.interval = .seconds(5)
        check.timeout = .seconds(2)
        check.expectedStatus = 200...399
        check.fails = 2
        check.passes = 1
        app.healthCheck = check
        app.usesTLS = true
        app.caFile = "/etc/tern/upstream-ca.pem"

        let local = ProxyConfiguration.Upstream(
            name: "http://127.0.0.1:9001", servers: [.init(host: "127.0.0.1", port: 9001, location: at(35, 30))],
            location: at(35, 30))
        var backend = ProxyConfiguration.Upstream(
            name: "https://backend.internal", servers: [.init(host: "backend.internal", port: 443, location: at(37, 11))],
            location: at(37, 11))
        backend.usesTLS = true
        expected.upstreams = ["app": app, local.name: local, backend.name: backend]

        var api = ProxyConfiguration.Route(host: .exact("api.example.com"), pathPrefix: "/v1/", action: .proxy(upstream: "app"), location: at(21, 1))
        api.stripPrefix = "/v1"
        api.requestHeaders = [.set(name: "X-Env", value: "prod"), .add(name: "X-Tag", value: "a"), .remove(name: "X-Debug")]
        api.responseHeaders = [.set(name: "X-Frame-Options", value: "DENY")]
        api.hostHeader = .upstream
        api.timeouts.connect = .seconds(5)
        api.timeouts.read = .seconds(60)
        api.timeouts.request = .seconds(30)
        api.maxBodySize = 10 << 20
        api.cacheDisabled = true
        var old = ProxyConfiguration.Route(host: .any, pathPrefix: "/old/", action: .proxy(upstream: "https://backend.internal"), location: at(36, 1))
        old.rewritePrefix = ("/old/", "/new/")
        expected.routes = [
            api,
            .init(host: .suffix(".example.com"), pathPrefix: "/", action: .proxy(upstream: "http://127.0.0.1:9001"), location: at(35, 1)),
            old,
            .init(host: .any, pathPrefix: "/healthz", action: .respond(status: 200, body: "ok"), location: at(40, 1)),
        ]

        expected.errorPages = [502: "/etc/tern/pages/50x.mustache", 503: "/etc/tern/pages/50x.mustache", 504: "/etc/tern/pages/50x.mustache"]
        expected.accessLog.path = "/var/log/tern/access.log"
        expected.accessLog.format = .json
        expected.limits.maxHeaderSize = 16 * 1024
        expected.limits.maxHeaderCount = 50
        expected.limits.maxURILength = 4 * 1024
        expected.limits.maxBodySize = 1 << 30
        expected.limits.headerTimeout = .seconds(10)
        expected.limits.keepAliveTimeout = .seconds(75)
        expected.limits.maxRequestsPerConnection = 500
        expected.limits.maxConnections = 2000
        expected.forwarding.xForwarded = true
        expected.forwarding.via = false
        expected.shutdownTimeout = .seconds(20)

        XCTAssertEqual(configuration.listeners, expected.listeners)
        XCTAssertEqual(configuration.workers, expected.workers)
        for name in expected.upstreams.keys.sorted() {
            XCTAssertEqual(configuration.upstreams[name], expected.upstreams[name], name)
        }
        XCTAssertEqual(configuration.upstreams.keys.sorted(), expected.upstreams.keys.sorted())
        XCTAssertEqual(configuration.routes.count, expected.routes.count)
        for (got, want) in zip(configuration.routes, expected.routes) {
            XCTAssertEqual(got, want, "\(want.pathPrefix)")
        }
        XCTAssertEqual(configuration.errorPages, expected.errorPages)
        XCTAssertEqual(configuration.accessLog, expected.accessLog)
        XCTAssertEqual(configuration.limits, expected.limits)
        XCTAssertEqual(configuration.forwarding, expected.forwarding)
        XCTAssertEqual(configuration.shutdownTimeout, expected.shutdownTimeout)
        XCTAssertEqual(configuration, expected)
    }

    func testAnEmptyishFileWithOneListenerAndDefaults() throws {
        let configuration = try ConfigFixture.parse("listen tcp:8080\n")
        var expected = ProxyConfiguration()
        expected.listeners = [.init(endpoint: .tcp(port: 8080, interface: "0.0.0.0"), location: ConfigFixture.location(1, 1))]
        XCTAssertEqual(configuration, expected)
    }

    func testSemicolonsAndAllmanBracesReadTheSame() throws {
        let compact = try ConfigFixture.parse("listen tcp:8080; upstream app { server a:1; server b:2 }; route / { proxy app }")
        let allman = try ConfigFixture.parse("""
            listen tcp:8080

            upstream app
            {
                server a:1
                server b:2
            }
            route /
            {
                proxy app
            }
            """)
        XCTAssertEqual(compact.upstreams["app"]?.servers.map(\.host), ["a", "b"])
        XCTAssertEqual(allman.upstreams["app"]?.servers.map(\.host), ["a", "b"])
        XCTAssertEqual(compact.routes.map(\.action), allman.routes.map(\.action))
    }
}
