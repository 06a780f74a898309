import NIOCore
import XCTest

@testable import TernProxy

/// Each directive on its own, in its accepted spellings.
final class ConfigDirectiveTests: XCTestCase {
    private func parse(_ body: String) throws -> ProxyConfiguration {
        try ConfigFixture.parse(ConfigFixture.wrap(body))
    }

    private func endpoints(_ lines: String) throws -> [ProxyConfiguration.Listener.Endpoint] {
        try ConfigFixture.parse(lines + "\nroute / { respond 200 }").listeners.map(\.endpoint)
    }

    // MARK: listen

    func testTCPListeners() throws {
        XCTAssertEqual(
            try self.endpoints(
                """
                listen tcp:1
                listen tcp:2:interface=127.0.0.1
                listen tcp:3:interface=::1
                listen tcp:4:interface=\\:\\:1
                listen tcp:5:interface=[::1]
                listen TCP:port=6
                listen "tcp:7:interface=::"
                """),
            [
                .tcp(port: 1, interface: "0.0.0.0"), .tcp(port: 2, interface: "127.0.0.1"), .tcp(port: 3, interface: "::1"),
                .tcp(port: 4, interface: "::1"), .tcp(port: 5, interface: "::1"), .tcp(port: 6, interface: "0.0.0.0"),
                .tcp(port: 7, interface: "::"),
            ])
    }

    func testSSLListeners() throws {
        let configuration = try ConfigFixture.parse(
            """
            listen ssl:443:privateKey=both.pem:interface=10.0.0.1
            listen ssl:8443 {
                certificate cert=a.pem key=/keys/a.key
                certificate cert=b.pem
            }
            route / { respond 200 }
            """)
        let at = { (line: Int, column: Int) in ConfigFixture.location(line, column) }
        XCTAssertEqual(
            configuration.listeners.map(\.endpoint),
            [
                .ssl(
                    port: 443, interface: "10.0.0.1",
                    certificates: [.init(certificateChainPath: "/etc/tern/both.pem", privateKeyPath: "/etc/tern/both.pem", location: at(1, 8))]),
                .ssl(
                    port: 8443, interface: "0.0.0.0",
                    certificates: [
                        .init(certificateChainPath: "/etc/tern/a.pem", privateKeyPath: "/keys/a.key", location: at(3, 5)),
                        .init(certificateChainPath: "/etc/tern/b.pem", privateKeyPath: "/etc/tern/b.pem", location: at(4, 5)),
                    ]),
            ])
    }

    func testRedirectAndUnixListeners() throws {
        let configuration = try ConfigFixture.parse(
            """
            listen tcp:80 {
                redirect-https 443
            }
            listen unix:tern.sock
            listen unix:address=/run/b.sock
            route / { respond 200 }
            """)
        XCTAssertEqual(configuration.listeners.map(\.redirectToHTTPSPort), [443, nil, nil])
        XCTAssertEqual(configuration.listeners.map(\.endpoint), [.tcp(port: 80, interface: "0.0.0.0"), .unix(path: "/etc/tern/tern.sock"), .unix(path: "/run/b.sock")])
    }

    func testSamePortOnDifferentInterfacesIsFine() throws {
        XCTAssertEqual(try self.endpoints("listen tcp:80:interface=127.0.0.1\nlisten tcp:80:interface=::1").count, 2)
    }

    // MARK: workers, forwarding, shutdown

    func testWorkers() throws {
        XCTAssertEqual(try self.parse("workers 4").workers, 4)
        XCTAssertNil(try self.parse("workers auto").workers)
        XCTAssertNil(try self.parse("").workers)
    }

    func testForwardingSwitchesAndShutdownTimeout() throws {
        let configuration = try self.parse("x-forwarded off\nvia off\nshutdown-timeout 0")
        XCTAssertEqual(configuration.forwarding, { var f = ProxyConfiguration.Forwarding(); f.xForwarded = false; f.via = false; return f }())
        XCTAssertEqual(configuration.shutdownTimeout, .zero)
        let defaults = try self.parse("x-forwarded on\nvia on\nshutdown-timeout 1m")
        XCTAssertEqual(defaults.forwarding, .init())
        XCTAssertEqual(defaults.shutdownTimeout, .seconds(60))
    }

    // MARK: upstream

    func testServerAddressesAndDefaultPorts() throws {
        let configuration = try self.parse(
            """
            upstream plain {
                server app.internal
                server 10.0.0.1:81
                server [2001:db8::1]
                server APP.Example.com:9000
            }
            upstream tls {
                server secure.internal
                scheme https
            }
            """)
        let plain = try XCTUnwrap(configuration.upstreams["plain"])
        XCTAssertEqual(plain.servers.map(\.host), ["app.internal", "10.0.0.1", "2001:db8::1", "app.example.com"])
        XCTAssertEqual(plain.servers.map(\.port), [80, 81, 80, 9000])
        XCTAssertEqual(plain.servers.map(\.weight), [1, 1, 1, 1])
        XCTAssertFalse(plain.usesTLS)
        XCTAssertNil(plain.healthCheck)
        XCTAssertEqual(plain.balance, .roundRobin)
        XCTAssertEqual(configuration.upstreams["tls"]?.servers.map(\.port), [443])
        XCTAssertEqual(configuration.upstreams["tls"]?.usesTLS, true)
    }

    func testServerOptions() throws {
        let server = try XCTUnwrap(
            self.parse("upstream u { server a:1 max-fails=0 fail-timeout=500ms }").upstreams["u"]?.servers.first)
        XCTAssertEqual(server.maxFails, 0)
        XCTAssertEqual(server.failTimeout, .milliseconds(500))
        XCTAssertNil(server.maxConnections)
    }

    func testBalance() throws {
        let cases: [(String, ProxyConfiguration.Balance)] = [
            ("round-robin", .roundRobin), ("least-conn", .leastConnections), ("hash client-ip", .hashClientAddress),
            ("hash header X-User", .hashHeader("X-User")),
        ]
        for (text, balance) in cases {
            XCTAssertEqual(try self.parse("upstream u { server a:1; balance \(text) }").upstreams["u"]?.balance, balance, text)
        }
    }

    func testHealthCheckDefaultsAndSingleStatus() throws {
        XCTAssertEqual(try self.parse("upstream u { server a:1; health-check }").upstreams["u"]?.healthCheck, .init())
        let check = try self.parse("upstream u { server a:1; health-check expect=204 path=/ping }").upstreams["u"]?.healthCheck
        XCTAssertEqual(check?.expectedStatus, 204...204)
        XCTAssertEqual(check?.path, "/ping")
    }

    // MARK: route

    func testRoutePatterns() throws {
        let configuration = try self.parse(
            """
            route / { respond 200 }
            route /v1/ { respond 200 }
            route API.Example.com { respond 200 }
            route *.example.com/static/ { respond 200 }
            route */any/ { respond 200 }
            route [::1]/ { respond 200 }
            """)
        XCTAssertEqual(configuration.routes.map(\.host), [.any, .any, .exact("api.example.com"), .suffix(".example.com"), .any, .exact("[::1]")])
        XCTAssertEqual(configuration.routes.map(\.pathPrefix), ["/", "/v1/", "/", "/static/", "/any/", "/"])
    }

    func testSameHostAndPrefixIsADuplicateButDifferentHostsAreNot() throws {
        XCTAssertEqual(try self.parse("route a.com/ { respond 200 }\nroute b.com/ { respond 200 }\nroute / { respond 200 }").routes.count, 3)
    }

    func testProxyURLsMakeOneUpstreamEach() throws {
        let configuration = try self.parse(
            """
            route /a/ { proxy http://10.0.0.1:9001 }
            route /b/ { proxy http://10.0.0.1:9001 }
            route /c/ { proxy https://[::1] }
            route / { respond 200 }
            """)
        XCTAssertEqual(configuration.upstreams.keys.sorted(), ["http://10.0.0.1:9001", "https://[::1]"])
        let v6 = try XCTUnwrap(configuration.upstreams["https://[::1]"])
        XCTAssertEqual(v6.servers.map(\.host), ["::1"])
        XCTAssertEqual(v6.servers.map(\.port), [443])
        XCTAssertTrue(v6.usesTLS)
        XCTAssertEqual(configuration.upstreams["http://10.0.0.1:9001"]?.location, ConfigFixture.location(2, 19))
    }

    func testUpstreamsMayBeDefinedAfterTheRoutesThatUseThem() throws {
        XCTAssertEqual(try self.parse("route / { proxy late }\nupstream late { server a:1 }").routes.first?.action, .proxy(upstream: "late"))
    }

    func testRouteDirectives() throws {
        let route = try XCTUnwrap(
            self.parse(
                """
                route /x/ {
                    proxy http://a:1
                    response-header add Cache-Control "no-store, private"
                    response-header remove Server
                    host-header example.com:8080
                    timeout request 0
                    max-body 0
                }
                """
            ).routes.first)
        XCTAssertEqual(route.responseHeaders, [.add(name: "Cache-Control", value: "no-store, private"), .remove(name: "Server")])
        XCTAssertEqual(route.hostHeader, .set("example.com:8080"))
        XCTAssertNil(route.timeouts.request)
        XCTAssertEqual(route.timeouts.connect, .seconds(5))
        XCTAssertEqual(route.maxBodySize, Int.max)
        XCTAssertFalse(route.cacheDisabled)
        XCTAssertEqual(try self.parse("route / { proxy http://a:1; host-header keep }").routes.first?.hostHeader, .keep)
    }

    func testRespondWithoutABodyAndWithEscapes() throws {
        let configuration = try self.parse("route /a { respond 204 }\nroute /b { respond 503 \"down\\n\" }")
        XCTAssertEqual(configuration.routes.map(\.action), [.respond(status: 204, body: ""), .respond(status: 503, body: "down\n")])
    }

    // MARK: error pages, access log, limits, cache

    func testErrorPagesInAllSpellings() throws {
        let pages = try self.parse("error-page 500 502 p/5xx.mustache\nerror-page 503,504 /abs.mustache").errorPages
        XCTAssertEqual(pages, [500: "/etc/tern/p/5xx.mustache", 502: "/etc/tern/p/5xx.mustache", 503: "/abs.mustache", 504: "/abs.mustache"])
    }

    func testAccessLog() throws {
        XCTAssertEqual(try self.parse("").accessLog, .init())
        XCTAssertNil(try self.parse("access-log off").accessLog.path)
        XCTAssertEqual(try self.parse("access-log -").accessLog.path, "stdout")
        XCTAssertEqual(try self.parse("access-log stdout format=json").accessLog.format, .json)
        XCTAssertEqual(try self.parse("access-log logs/a.log format=combined").accessLog.path, "/etc/tern/logs/a.log")
    }

    func testLimits() throws {
        let limits = try self.parse(
            """
            limits {
                max-header-size 64k
                max-header-count 200
                max-uri-length 16k
                max-body 0
                header-timeout 500ms
                keepalive-timeout 0
                keepalive-requests 1
                max-connections 1
            }
            """
        ).limits
        XCTAssertEqual(limits.maxHeaderSize, 65536)
        XCTAssertEqual(limits.maxHeaderCount, 200)
        XCTAssertEqual(limits.maxURILength, 16384)
        XCTAssertEqual(limits.maxBodySize, Int.max)
        XCTAssertEqual(limits.headerTimeout, .milliseconds(500))
        XCTAssertEqual(limits.keepAliveTimeout, .zero)
        XCTAssertEqual(limits.maxRequestsPerConnection, 1)
        XCTAssertEqual(limits.maxConnections, 1)
        XCTAssertEqual(try self.parse("limits { }").limits, .init())
    }

    func testCacheOff() throws {
        XCTAssertNoThrow(try self.parse("cache off"))
        XCTAssertEqual(try self.parse("route / { proxy http://a:1; cache off }").routes.first?.cacheDisabled, true)
        XCTAssertNil(try self.parse("cache off").cache)
        XCTAssertEqual(try self.parse("cache memory").cache?.store, .memory(capacity: 256 << 20))
        let redis = try self.parse("cache-lock-timeout 2s\ncache redis://127.0.0.1:6379/3 memory-tier=8m\ncache-max-object 1m\ncache-store-timeout 100ms")
        XCTAssertEqual(redis.cache?.store, .redis(url: "redis://127.0.0.1:6379/3"))
        XCTAssertEqual(redis.cache?.memoryTier, 8 << 20)
        XCTAssertEqual(redis.cache?.maxObjectSize, 1 << 20)
        XCTAssertEqual(redis.cache?.lockTimeout, .seconds(2))
        XCTAssertEqual(redis.cache?.storeTimeout, .milliseconds(100))
        XCTAssertEqual(
            try self.parse("cache redis-cluster://10.0.0.1:7000,10.0.0.2:7001").cache?.store,
            .redisCluster(urls: ["redis://10.0.0.1:7000", "redis://10.0.0.2:7001"]))
        let purge = try self.parse("purge-allow 10.0.0.0/8 fd00::/8").purgeAllow
        XCTAssertTrue(purge.allows(try SocketAddress(ipAddress: "10.1.2.3", port: 1)))
        XCTAssertFalse(purge.allows(try SocketAddress(ipAddress: "11.0.0.1", port: 1)))
        XCTAssertTrue(purge.allows(try SocketAddress(ipAddress: "fd12::1", port: 1)))
        XCTAssertFalse(purge.allows(try SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        XCTAssertTrue(try self.parse("via on").purgeAllow.allows(try SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        XCTAssertTrue(try self.parse("via on").purgeAllow.allows(try SocketAddress(ipAddress: "::1", port: 1)))
    }
}
