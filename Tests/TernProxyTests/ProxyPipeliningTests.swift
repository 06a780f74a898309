import Foundation
import XCTest

@testable import TernProxy

#if canImport(Glibc)
import Glibc
#endif

/// RFC 9112 §9.3.2: requests pipelined on one connection are answered in order.
final class ProxyPipeliningTests: ProxyTestCase {
    func testPipelinedRequestsAreAnsweredInOrder() async throws {
        let a = try await self.origin("a")
        let (_, port) = try await self.proxy(
            "route /healthz { respond 200 \"ok\" }\nroute / { proxy http://127.0.0.1:\(a.port) }"
        )
        let requests =
            "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            + "POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            + "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let reply = try rawExchange(port: port, send: requests)
        let order = ["a GET /first", "\r\n\r\nok", "\r\n\r\n5", "a GET /last"].map { reply.range(of: $0)?.lowerBound }
        XCTAssertFalse(order.contains(nil), reply)
        XCTAssertEqual(order.compactMap { $0 }, order.compactMap { $0 }.sorted(), "answers in request order: \(reply)")
        XCTAssertEqual(reply.components(separatedBy: "HTTP/1.1 200 OK").count - 1, 4)
    }
}

/// Sends bytes on a plain TCP connection and reads until the server closes (or 5 s pass).
func rawExchange(port: Int, send text: String) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw TestFailure(message: "connect failed") }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    var received = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        received += buffer[0..<n]
    }
    return String(decoding: received, as: UTF8.self)
}

/// `redirect-https`: the listener answers every request itself, from the fields of its head
/// (`Host`), which reach its handler through the pipeline rather than the proxy handler's
/// direct link, so the guard must hand them on as values. A request with `Connection: close`
/// gets the redirect and then the connection's end.
final class ProxyHTTPSRedirectTests: ProxyTestCase {
    func testRedirectKeepsTheHostAndTarget() async throws {
        let (_, port) = try await self.proxy(
            "route / { respond 200 \"ok\" }", listen: "listen tcp:0:interface=127.0.0.1 { redirect-https 8443 }")
        let reply = try rawExchange(
            port: port,
            send: "GET /p?q=1 HTTP/1.1\r\nUser-Agent: t\r\nHost: example.test:80\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                + "GET /after-close HTTP/1.1\r\nHost: example.test\r\n\r\n")
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 308"), reply)
        XCTAssertTrue(reply.lowercased().contains("location: https://example.test:8443/p?q=1\r\n"), reply)
        XCTAssertTrue(reply.lowercased().contains("connection: close\r\n"), reply)
        // `Connection: close` closes: the request behind it is not answered.
        XCTAssertEqual(reply.components(separatedBy: "HTTP/1.1 308").count - 1, 1, reply)
    }
}
