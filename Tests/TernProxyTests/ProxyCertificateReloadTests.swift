import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TernTestSupport
import XCTest

@testable import TernProxy

/// `tls-reload-interval`: a certificate replaced on disk is served to new handshakes while a
/// keep-alive connection opened before goes on; a broken replacement is refused and the old
/// certificate keeps serving.
final class ProxyCertificateReloadTests: ProxyTestCase {
    func testReplacedCertificateIsServedToNewHandshakesAndOpenConnectionsGoOn() async throws {
        let pki = try TestPKI()
        let first = try pki.issue("first", names: ["site.test"])
        let second = try pki.issue("second", names: ["site.test", "second.site.test"])
        let certificate = pki.directory + "/live.pem"
        let key = pki.directory + "/live.key"
        try Self.install(first, certificate: certificate, key: key)
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy(
            "tls-reload-interval 100ms\nroute / { proxy http://127.0.0.1:\(a.port) }",
            listen: "listen ssl:0:interface=127.0.0.1:privateKey=\(key):certKey=\(certificate)"
        )
        let firstLeaf = try NIOSSLCertificate.fromPEMFile(first.certificate)[0]
        let secondLeaf = try NIOSSLCertificate.fromPEMFile(second.certificate)[0]
        XCTAssertNotEqual(firstLeaf, secondLeaf)

        let open = try await TLSClient.connect(port: port)
        XCTAssertEqual(open.peer, firstLeaf)
        let status = try await open.get("/before")
        XCTAssertEqual(status, 200)

        try Self.install(second, certificate: certificate, key: key)
        var presented = try await TLSClient.connect(port: port)
        let deadline = ContinuousClock.now + .seconds(10)
        while presented.peer != secondLeaf && ContinuousClock.now < deadline {
            try await presented.close()
            try await Task.sleep(for: .milliseconds(50))
            presented = try await TLSClient.connect(port: port)
        }
        XCTAssertEqual(presented.peer, secondLeaf, "new handshakes present the new certificate")
        let statusNew = try await presented.get("/new")
        XCTAssertEqual(statusNew, 200)
        try await presented.close()

        // The connection opened before the change still serves, with the certificate it began with.
        let statusAfter = try await open.get("/after")
        XCTAssertEqual(statusAfter, 200)
        XCTAssertEqual(open.peer, firstLeaf)
        try await open.close()
    }

    func testBrokenReplacementIsRefusedAndTheOldCertificateKeepsServing() async throws {
        let pki = try TestPKI()
        let first = try pki.issue("first", names: ["site.test"])
        let other = try pki.issue("other", names: ["other.test"])
        let certificate = pki.directory + "/live.pem"
        let key = pki.directory + "/live.key"
        try Self.install(first, certificate: certificate, key: key)
        let (_, port) = try await self.proxy(
            "tls-reload-interval 100ms\nroute / { respond 200 }",
            listen: "listen ssl:0:interface=127.0.0.1:privateKey=\(key):certKey=\(certificate)"
        )
        let firstLeaf = try NIOSSLCertificate.fromPEMFile(first.certificate)[0]

        // Not a certificate at all, then a certificate with a key that does not match it.
        try "not a certificate\n".write(toFile: certificate, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(400))
        var client = try await TLSClient.connect(port: port)
        XCTAssertEqual(client.peer, firstLeaf)
        try await client.close()

        try FileManager.default.removeItem(atPath: certificate)
        try FileManager.default.copyItem(atPath: other.certificate, toPath: certificate)
        try await Task.sleep(for: .milliseconds(400))
        client = try await TLSClient.connect(port: port)
        XCTAssertEqual(client.peer, firstLeaf)
        let status = try await client.get("/")
        XCTAssertEqual(status, 200)
        try await client.close()

        // The watcher is still at work: a good pair is taken up once its key lands too.
        try Self.install(other, certificate: certificate, key: key)
        let otherLeaf = try NIOSSLCertificate.fromPEMFile(other.certificate)[0]
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            try await Task.sleep(for: .milliseconds(50))
            client = try await TLSClient.connect(port: port)
            try await client.close()
        } while client.peer != otherLeaf && ContinuousClock.now < deadline
        XCTAssertEqual(client.peer, otherLeaf)
    }

    /// Replaces the live pair the way deployment tools do: new files renamed over the old ones.
    private static func install(_ pair: (certificate: String, key: String), certificate: String, key: String) throws {
        for (source, target) in [(pair.key, key), (pair.certificate, certificate)] {
            let temporary = target + ".new"
            try? FileManager.default.removeItem(atPath: temporary)
            try FileManager.default.copyItem(atPath: source, toPath: temporary)
            guard rename(temporary, target) == 0 else { throw TestFailure(message: "rename \(temporary) failed") }
        }
    }
}

/// A TLS HTTP/1.1 client on one connection that remembers the certificate the server presented.
private final class TLSClient: Sendable {
    let channel: any Channel
    let peer: NIOSSLCertificate?
    private let responses: ResponseQueue

    private init(channel: any Channel, peer: NIOSSLCertificate?, responses: ResponseQueue) {
        self.channel = channel
        self.peer = peer
        self.responses = responses
    }

    static func connect(port: Int) async throws -> TLSClient {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        let context = try NIOSSLContext(configuration: configuration)
        let peer = NIOLockedValueBox<NIOSSLCertificate?>(nil)
        let responses = ResponseQueue()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: "site.test") { certificates, promise in
                        peer.withLockedValue { $0 = certificates.first }
                        promise.succeed(.certificateVerified)
                    }
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseStatusHandler(queue: responses))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        // The handshake runs before the first request's answer; a request makes sure it is done.
        let client = TLSClient(channel: channel, peer: nil, responses: responses)
        _ = try await client.get("/handshake")
        return TLSClient(channel: channel, peer: peer.withLockedValue { $0 }, responses: responses)
    }

    func get(_ path: String) async throws -> Int {
        let promise = self.channel.eventLoop.makePromise(of: Int.self)
        self.responses.append(promise)
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: "site.test")
        self.channel.write(HTTPClientRequestPart.head(head), promise: nil)
        self.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        return try await promise.futureResult.get()
    }

    func close() async throws { try? await self.channel.close() }
}

private final class ResponseQueue: Sendable {
    private let waiting = NIOLockedValueBox<[EventLoopPromise<Int>]>([])
    func append(_ promise: EventLoopPromise<Int>) { self.waiting.withLockedValue { $0.append(promise) } }
    func next() -> EventLoopPromise<Int>? {
        self.waiting.withLockedValue { $0.isEmpty ? nil : $0.removeFirst() }
    }
    func failAll(_ error: any Error) {
        for promise in self.waiting.withLockedValue({ w in defer { w = [] }; return w }) { promise.fail(error) }
    }
}

private final class ResponseStatusHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    private let queue: ResponseQueue
    private var status = 0

    init(queue: ResponseQueue) { self.queue = queue }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head): self.status = Int(head.status.code)
        case .body: break
        case .end: self.queue.next()?.succeed(self.status)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.queue.failAll(ChannelError.eof)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.queue.failAll(error)
        context.close(promise: nil)
    }
}
