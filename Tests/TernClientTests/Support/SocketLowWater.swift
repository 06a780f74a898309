import Foundation
import TernClient

#if canImport(Glibc)
import Glibc
#endif

/// This process's own TCP sockets, read through /proc/self/fd (Linux only): the receive low-water mark
/// (`SO_RCVLOWAT`) of each socket connected to a port on loopback, as the kernel holds it.
enum SocketLowWater {
    static func marks(ofSocketsConnectedTo port: Int) -> [Int32] {
        #if os(Linux)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return [] }
        var marks: [Int32] = []
        for entry in entries {
            guard let fd = Int32(entry) else { continue }
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
            }
            guard named == 0, address.sin_family == sa_family_t(AF_INET), Int(UInt16(bigEndian: address.sin_port)) == port else { continue }
            var mark: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &mark, &size) == 0 { marks.append(mark) }
        }
        return marks
        #else
        return []
        #endif
    }
}

extension SocketLowWater {
    /// Reads a response's body to its end, looking at the mark of the client's sockets to `port`
    /// after each part: the body's length and the highest mark seen while it came.
    static func readBody(of response: Response, connectedTo port: Int) async throws -> (length: Int, highestMark: Int32) {
        var length = 0
        var highest: Int32 = 0
        for try await buffer in response.body {
            length += buffer.readableBytes
            highest = max(highest, self.marks(ofSocketsConnectedTo: port).max() ?? 0)
        }
        return (length, highest)
    }
}
