import NIOCore
import NIOHTTP1
import TernClient

#if canImport(Glibc)
import Glibc
#endif

/// The access log of one event loop: lines are formatted after the response's last write has
/// gone out, gathered in a buffer, and written once it holds 32 KiB or once a second, so the
/// request path never waits on the log file.
final class AccessLogWriter {
    private let fd: Int32
    private let format: ProxyConfiguration.AccessLog.Format
    private var buffer: ByteBuffer
    private let eventLoop: any EventLoop
    private var flushTask: Scheduled<Void>?

    init(fd: Int32, format: ProxyConfiguration.AccessLog.Format, eventLoop: any EventLoop) {
        self.fd = fd
        self.format = format
        self.eventLoop = eventLoop
        self.buffer = ByteBufferAllocator().buffer(capacity: 32 * 1024)
    }

    /// Starts the once-a-second flush; call on the loop.
    func start() {
        self.flushTask = self.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in
            self.flush()
            self.start()
        }
    }

    struct Entry {
        var client: String
        var head: HTTPRequestHead
        var status: UInt
        var bytesSent: Int
        var durationNanoseconds: Int64
        var upstream: String?
        /// The head's fields as bytes, when its `HTTPHeaders` were never read from them.
        var fields: HTTP1RawFields? = nil

        func first(_ name: StaticString) -> String? {
            if let fields { fields.first(name: name) } else { self.head.headers.first(name: name.description) }
        }
    }

    func log(_ entry: Entry, date: (local: String, iso8601: String)) {
        switch self.format {
        case .combined:
            // nginx's "combined": $remote_addr - $remote_user [$time_local] "$request" $status
            // $body_bytes_sent "$http_referer" "$http_user_agent" (time as the Date header here).
            let referer = entry.first("referer") ?? "-"
            let agent = entry.first("user-agent") ?? "-"
            self.buffer.writeString(
                "\(entry.client) - - [\(date.local)] \"\(entry.head.method.rawValue) \(Self.clean(entry.head.uri)) HTTP/\(entry.head.version.major).\(entry.head.version.minor)\" \(entry.status) \(entry.bytesSent) \"\(Self.clean(referer))\" \"\(Self.clean(agent))\"\n"
            )
        case .json:
            self.buffer.writeString(
                "{\"time\":\"\(date.iso8601)\",\"client\":\"\(Self.json(entry.client))\",\"method\":\"\(Self.json(entry.head.method.rawValue))\",\"uri\":\"\(Self.json(entry.head.uri))\",\"status\":\(entry.status),\"bytes\":\(entry.bytesSent),\"duration_ms\":\(Double(entry.durationNanoseconds / 1000) / 1000),\"upstream\":\(entry.upstream.map { "\"\(Self.json($0))\"" } ?? "null")}\n"
            )
        }
        if self.buffer.readableBytes >= 32 * 1024 { self.flush() }
    }

    func flush() {
        while self.buffer.readableBytes > 0 {
            let written = self.buffer.withUnsafeReadableBytes { write(self.fd, $0.baseAddress, $0.count) }
            if written <= 0 { break }
            self.buffer.moveReaderIndex(forwardBy: written)
        }
        self.buffer.clear()
    }

    func stop() {
        self.flushTask?.cancel()
        self.flushTask = nil
        self.flush()
    }

    /// Quotes and control bytes from clients must not forge log lines.
    private static func clean(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == 0x7F || $0 == UInt8(ascii: "\\") }) else {
            return text
        }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\"" || scalar == "\\" {
                out += "\\x" + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func json(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
