import NIOCore

extension ProxyConfiguration {
    /// `admin tcp:9901:interface=127.0.0.1` and `admin-allow 127.0.0.1 10.0.0.0/8 ::1`: a plain HTTP
    /// listener serving `/metrics` (Prometheus text) and `/status`, off unless configured.
    public struct Admin: Sendable, Equatable {
        /// nil: no admin listener.
        public var endpoint: Listener.Endpoint?
        /// Clients allowed; everyone else gets 403. Default: loopback only.
        public var allow: [AddressRange] = AddressRange.loopback
        public var location: SourceLocation?

        public init() {}
    }
}

/// An IPv4 or IPv6 address with a prefix length: `10.0.0.0/8`, `::1` (a /128), `127.0.0.1`.
/// IPv4-mapped IPv6 peers (`::ffff:127.0.0.1`) are compared as IPv4.
public struct AddressRange: Sendable, Hashable, CustomStringConvertible {
    /// 4 or 16 bytes, host bits cleared.
    public let bytes: [UInt8]
    public let prefixLength: Int

    public static let loopback = [AddressRange(parsing: "127.0.0.0/8")!, AddressRange(parsing: "::1")!]

    /// nil when `text` is not an address, or the prefix length is out of range for it.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = try? SocketAddress(ipAddress: String(parts[0]), port: 0), let bytes = address.addressBytes else {
            return nil
        }
        let maximum = bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...maximum).contains(value), parts[1].allSatisfy(\.isNumber) else { return nil }
            length = value
        }
        self.prefixLength = length
        self.bytes = Self.masked(bytes, length)
    }

    public func contains(_ address: SocketAddress) -> Bool {
        guard var bytes = address.addressBytes else { return false }
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == self.bytes.count else { return false }
        return Self.masked(bytes, self.prefixLength) == self.bytes
    }

    public var description: String {
        let address = (try? SocketAddress(packedIPAddress: ByteBuffer(bytes: self.bytes), port: 0))?.ipAddress ?? "?"
        return self.prefixLength == self.bytes.count * 8 ? address : "\(address)/\(self.prefixLength)"
    }

    private static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        var bytes = bytes
        for index in bytes.indices {
            let bits = max(0, min(8, length - index * 8))
            bytes[index] &= bits == 8 ? 0xff : ~(0xff >> UInt8(bits))
        }
        return bytes
    }
}

extension SocketAddress {
    /// The address's bytes (4 or 16); nil for a Unix socket.
    var addressBytes: [UInt8]? {
        switch self {
        case .v4(let address):
            var storage = address.address.sin_addr
            return withUnsafeBytes(of: &storage) { Array($0) }
        case .v6(let address):
            var storage = address.address.sin6_addr
            return withUnsafeBytes(of: &storage) { Array($0) }
        case .unixDomainSocket:
            return nil
        }
    }
}
