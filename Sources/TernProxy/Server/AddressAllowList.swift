import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `allow 127.0.0.1 10.0.0.0/8 ::1 fd00::/8`: the client addresses a listener serves. Others get
/// 403 to their first request and the connection is closed (nginx's `allow`/`deny all`). Meant
/// for listeners that carry admin, metrics or purge endpoints; an empty list allows everyone.
/// Unix-socket clients are always allowed (the socket file's permissions decide).
public struct AddressAllowList: Sendable, Equatable {
    public struct Range: Sendable, Equatable, CustomStringConvertible {
        /// 4 bytes (IPv4) or 16 (IPv6), masked to the prefix.
        var bytes: [UInt8]
        var prefixLength: Int

        public var description: String { "\(Self.format(self.bytes))/\(self.prefixLength)" }

        /// `1.2.3.4`, `1.2.3.0/24`, `::1`, `fd00::/8`; nil when it is none of those.
        public init?(_ text: String) {
            let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let bytes = Self.parse(String(parts[0])) else { return nil }
            let maximum = bytes.count * 8
            var prefix = maximum
            if parts.count == 2 {
                guard let value = Int(parts[1]), value >= 0, value <= maximum, parts[1].allSatisfy(\.isASCII) else { return nil }
                prefix = value
            }
            self.bytes = Self.mask(bytes, prefix)
            self.prefixLength = prefix
        }

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == self.bytes.count else { return false }
            return Self.mask(address, self.prefixLength) == self.bytes
        }

        static func mask(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
            var masked = bytes
            for index in masked.indices {
                let bits = max(0, min(8, prefix - index * 8))
                masked[index] &= bits == 0 ? 0 : ~UInt8(0) << (8 - bits)
            }
            return masked
        }

        static func parse(_ text: String) -> [UInt8]? {
            var v4 = in_addr()
            if inet_pton(AF_INET, text, &v4) == 1 {
                return withUnsafeBytes(of: &v4) { Array($0) }
            }
            var v6 = in6_addr()
            if inet_pton(AF_INET6, text, &v6) == 1 {
                let bytes = withUnsafeBytes(of: &v6) { Array($0) }
                // ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket.
                if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return Array(bytes[12...]) }
                return bytes
            }
            return nil
        }

        static func format(_ bytes: [UInt8]) -> String {
            if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
            return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        }
    }

    public var ranges: [Range]

    public init(_ ranges: [Range] = []) { self.ranges = ranges }

    public var isEmpty: Bool { self.ranges.isEmpty }

    /// Whether a client at `address` may be served.
    public func allows(_ address: SocketAddress?) -> Bool {
        if self.ranges.isEmpty { return true }
        guard let address else { return false }
        switch address {
        case .unixDomainSocket: return true
        case .v4, .v6:
            guard let ip = address.ipAddress, let bytes = Range.parse(ip) else { return false }
            return self.ranges.contains { $0.contains(bytes) }
        }
    }
}
