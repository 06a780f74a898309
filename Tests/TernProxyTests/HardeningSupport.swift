import Foundation
import NIOCore
import NIOPosix
import Synchronization
import TernTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client on loopback for sending bytes no HTTP library would send.
final class RawConnection {
    let fd: Int32
    private(set) var received = [UInt8]()
    /// The server closed its side (recv returned 0) or reset the connection.
    private(set) var closedByPeer = false
    private(set) var reset = false

    init(port: Int, timeout: Double = 5) throws {
        self.fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(self.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(self.fd)
            throw TestFailure(message: "connect to \(port) failed: errno \(errno)")
        }
        self.setTimeout(timeout)
    }

    deinit { close(self.fd) }

    func setTimeout(_ seconds: Double) {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) { self.send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(self.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// No more requests from us: the server sees end of input.
    func shutdownWrite() { shutdown(self.fd, Int32(SHUT_WR)) }

    /// Reads until the peer closes or the timeout passes; returns everything received so far.
    @discardableResult
    func readUntilClose() -> String {
        while self.readOnce() {}
        return self.text
    }

    /// Reads until `count` complete responses (by Content-Length, or to the close) are in.
    @discardableResult
    func readResponses(_ count: Int) -> [RawResponse] {
        while RawResponse.parseAll(self.received).count < count, self.readOnce() {}
        return RawResponse.parseAll(self.received)
    }

    /// One recv: false at close, reset or timeout.
    private func readOnce() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(self.fd, &buffer, buffer.count, 0)
        if n > 0 {
            self.received += buffer[0..<n]
            return true
        }
        if n == 0 { self.closedByPeer = true }
        if n < 0 && errno == ECONNRESET {
            self.closedByPeer = true
            self.reset = true
        }
        return false
    }

    /// Whether the server has closed the connection (waits up to the socket timeout).
    func isClosed() -> Bool {
        if self.closedByPeer { return true }
        while self.readOnce() {}
        return self.closedByPeer
    }

    var text: String { String(decoding: self.received, as: UTF8.self) }
}

/// A response as received on the wire.
struct RawResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? { self.headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

    /// The complete responses at the start of `bytes` (those with a Content-Length, or without a
    /// body); a last response without a length takes the rest.
    /// `partial`: a last response cut short (or answering HEAD) counts, with the bytes there are.
    static func parseAll(_ bytes: [UInt8], partial: Bool = false) -> [RawResponse] {
        var responses: [RawResponse] = []
        var index = 0
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while index < bytes.count {
            guard let end = bytes[index...].firstRange(of: separator) else { break }
            let head = String(decoding: bytes[index..<end.lowerBound], as: UTF8.self)
            var lines = head.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else { break }
            let headers = lines.compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            var response = RawResponse(status: status, headers: headers, body: [])
            let bodyStart = end.upperBound
            if let length = response.header("content-length").flatMap(Int.init) {
                guard bodyStart + length <= bytes.count else {
                    if partial {
                        response.body = Array(bytes[bodyStart...])
                        responses.append(response)
                    }
                    break
                }
                response.body = Array(bytes[bodyStart..<bodyStart + length])
                index = bodyStart + length
            } else if status < 200 || status == 204 || status == 304 {
                index = bodyStart
            } else {
                response.body = Array(bytes[bodyStart...])
                index = bytes.count
            }
            responses.append(response)
        }
        return responses
    }
}

/// An origin that answers each request with scripted bytes, then does what it is told: for
/// testing how the proxy meets upstreams that misbehave. Counts connections and requests.
final class RawOrigin: Sendable {
    enum After: Sendable {
        /// Keep the connection for the next request.
        case keepOpen
        case close
        /// Close with RST (SO_LINGER 0).
        case reset
    }

    struct Script: Sendable {
        /// Sent when a request head is complete; nil: send nothing (stall).
        var response: [UInt8]?
        var after: After
        /// Sent in pieces of this many bytes, a few milliseconds apart (with `after: .keepOpen`).
        var pieceSize: Int? = nil
    }

    let port: Int
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    /// `script(path)` decides the answer for each request.
    static func start(_ script: @escaping @Sendable (_ path: String) -> Script) async throws -> RawOrigin {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = CountersBox()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    box.value.withLock { $0.connections += 1 }
                    try channel.pipeline.syncOperations.addHandler(RawOriginHandler(script: script, counters: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return RawOrigin(port: channel.localAddress!.port!, channel: channel, group: group, box: box)
    }

    private let box: CountersBox

    private init(port: Int, channel: any Channel, group: MultiThreadedEventLoopGroup, box: CountersBox) {
        self.port = port
        self.channel = channel
        self.group = group
        self.box = box
    }

    var connections: Int { self.box.value.withLock { $0.connections } }
    var requests: Int { self.box.value.withLock { $0.requests } }

    func stop() async throws {
        try? await self.channel.close()
        try await self.group.shutdownGracefully()
    }
}

final class CountersBox: Sendable {
    let value = Mutex((connections: 0, requests: 0))
}

final class RawOriginHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let script: @Sendable (String) -> RawOrigin.Script
    private let counters: CountersBox
    private var buffer = [UInt8]()

    init(script: @escaping @Sendable (String) -> RawOrigin.Script, counters: CountersBox) {
        self.script = script
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = Self.unwrapInboundIn(data)
        self.buffer += bytes.readBytes(length: bytes.readableBytes) ?? []
        // One request at a time, heads only (the tests send no bodies upstream).
        while let end = self.buffer.firstRange(of: Array("\r\n\r\n".utf8)) {
            let head = String(decoding: self.buffer[..<end.lowerBound], as: UTF8.self)
            self.buffer.removeSubrange(..<end.upperBound)
            self.counters.value.withLock { $0.requests += 1 }
            let path = head.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
            let script = self.script(path)
            if let response = script.response, let size = script.pieceSize {
                let loop = context.eventLoop.assumeIsolated()
                for (index, start) in stride(from: 0, to: response.count, by: size).enumerated() {
                    let piece = ByteBuffer(bytes: response[start..<min(start + size, response.count)])
                    loop.scheduleTask(in: .milliseconds(Int64(2 * index))) {
                        context.writeAndFlush(Self.wrapOutboundOut(piece), promise: nil)
                    }
                }
            } else if let response = script.response {
                context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(bytes: response)), promise: nil)
            }
            switch script.after {
            case .keepOpen:
                continue
            case .close:
                context.close(promise: nil)
            case .reset:
                let channel = context.channel
                if let provider = channel as? any SocketOptionProvider {
                    provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
                } else {
                    channel.close(promise: nil)
                }
            }
            return
        }
    }
}
