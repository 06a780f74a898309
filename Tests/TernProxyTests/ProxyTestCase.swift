import HTTPTypes
import NIOCore
import NIOPosix
import TernClient
import TernTestSupport
import XCTest

@testable import TernProxy

/// Starts proxies from proxy.conf text (listening on a free port) and a client agent for them.
class ProxyTestCase: XCTestCase {
    var cleanups: [() async throws -> Void] = []
    lazy var client: Agent = {
        var configuration = Agent.Configuration()
        configuration.redirects = .disabled
        configuration.decompression = .disabled
        configuration.readTimeout = .seconds(20)
        let agent = Agent(configuration: configuration)
        self.cleanups.append { try await agent.shutdown() }
        return agent
    }()

    override func tearDown() async throws {
        for cleanup in self.cleanups.reversed() { try? await cleanup() }
        self.cleanups = []
    }

    func origin(_ name: String, healthy: Bool = true) async throws -> TestOrigin {
        let origin = try await TestOrigin.start(name: name, healthy: healthy)
        self.cleanups.append { try await origin.stop() }
        return origin
    }

    /// `config` without a `listen` line: one on 127.0.0.1 port 0 is added.
    func proxy(_ config: String, listen: String = "listen tcp:0:interface=127.0.0.1") async throws -> (server: ProxyServer, port: Int) {
        let configuration = try ProxyConfiguration.parse(
            listen + "\naccess-log off\nworkers 1\n" + config, file: "test.conf", baseDirectory: NSTemporaryDirectory()
        )
        let server = try ProxyServer(configuration: configuration)
        self.cleanups.append { try await server.shutdown(timeout: .seconds(2)) }
        let addresses = try await server.start()
        return (server, addresses[0].port!)
    }

    /// A port on loopback where nothing listens.
    func deadPort() throws -> Int {
        let group = MultiThreadedEventLoopGroup.singleton
        let channel = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress!.port!
        try channel.close().wait()
        return port
    }

    func get(_ port: Int, _ path: String, host: String? = nil, headers: [(String, String)] = []) async throws -> (Int, String, Response) {
        var request = Request(url: "http://127.0.0.1:\(port)\(path)")
        if let host { request.headerFields[.init("Host")!] = host }
        for (name, value) in headers { request.headerFields.append(.init(name: .init(name)!, value: value)) }
        let response = try await self.client.execute(request)
        let body = try await response.string(upTo: 64 << 20)
        return (response.status.code, body, response)
    }
}

/// A `ProxyTestCase` with a `redis-server` of its own for each test, on a free port.
class RedisProxyTestCase: ProxyTestCase {
    var redis: RedisServerProcess!

    override func setUp() async throws {
        try await super.setUp()
        self.redis = try RedisServerProcess()
    }

    override func tearDown() async throws {
        try await super.tearDown()
        self.redis?.remove()
    }
}
