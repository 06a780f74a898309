import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Unbuffered writes to a file descriptor, straight from the bytes we hold (no `Data` copies).
public struct Terminal: Sendable {
    public let fd: Int32

    public static let stdout = Terminal(fd: 1)
    public static let stderr = Terminal(fd: 2)

    public init(fd: Int32) { self.fd = fd }

    public var isTTY: Bool { isatty(self.fd) == 1 }

    /// Terminal width in columns (80 when unknown).
    public var columns: Int {
        var size = winsize()
        let result = withUnsafeMutablePointer(to: &size) { ioctl(self.fd, UInt(TIOCGWINSZ), $0) }
        if result == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    public struct WriteError: Error, CustomStringConvertible {
        public var errno: Int32
        public var description: String { String(cString: strerror(self.errno)) }
    }

    public func write(_ string: String) {
        var s = string
        _ = try? s.withUTF8 { try self.write(UnsafeRawBufferPointer($0)) }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try self.write($0) }
    }

    public func write(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { try self.write($0) }
    }

    public func write(_ pointer: UnsafeRawBufferPointer) throws {
        guard var base = pointer.baseAddress else { return }
        var remaining = pointer.count
        while remaining > 0 {
            #if canImport(Glibc)
            let n = Glibc.write(self.fd, base, remaining)
            #elseif canImport(Musl)
            let n = Musl.write(self.fd, base, remaining)
            #else
            let n = Darwin.write(self.fd, base, remaining)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw WriteError(errno: errno)
            }
            remaining -= n
            base += n
        }
    }
}

/// What standard input is: a pipe or a file can carry a body; a terminal or /dev/null does not.
enum StandardInput {
    static var carriesBody: Bool {
        var info = stat()
        guard fstat(0, &info) == 0 else { return false }
        let type = info.st_mode & S_IFMT
        return type == S_IFIFO || type == S_IFREG || type == S_IFSOCK
    }

    static func readAll() throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Terminal.WriteError(errno: errno)
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }
}
