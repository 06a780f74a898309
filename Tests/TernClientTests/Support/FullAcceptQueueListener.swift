#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A loopback listener that never accepts, with its accept queue filled by connections of its own, so that a
/// further connect gets no answer to its SYN: the only way to provoke a connect timeout without leaving loopback.
///
/// Whether the kernel really drops SYNs for a full queue depends on the network stack (Linux does; some sandboxes
/// may not), hence `isSaturated`: tests skip when the queue could not be filled.
final class FullAcceptQueueListener {
    private(set) var port = 0
    private(set) var isSaturated = false
    private var listener: Int32 = -1
    private var fillers: [Int32] = []

    init() throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw SocketError(call: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 0) == 0 else { throw SocketError(call: "bind/listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))

        // Connect until one connect stays pending: that one is the proof that SYNs go unanswered.
        for _ in 0..<64 {
            guard let completed = connectOnce(address: address) else { break }
            if !completed {
                isSaturated = true
                break
            }
        }
    }

    /// true: connected; false: still pending after 200 ms; nil: failed.
    private func connectOnce(address: sockaddr_in) -> Bool? {
        var address = address
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        fillers.append(fd)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result == 0 { return true }
        guard errno == EINPROGRESS else { return nil }
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&descriptor, 1, 200)
        if ready == 0 { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0 ? true : nil
    }

    func close() {
        for fd in fillers { _ = systemClose(fd) }
        fillers = []
        if listener >= 0 { _ = systemClose(listener) }
        listener = -1
    }

    deinit { close() }

    struct SocketError: Error {
        var call: String
        var code: Int32 = errno
    }
}

private func systemClose(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(fd)
    #else
    Darwin.close(fd)
    #endif
}
