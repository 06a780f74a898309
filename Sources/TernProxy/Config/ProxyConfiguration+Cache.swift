import NIOCore

extension ProxyConfiguration {
    /// The top-level `cache` line and its companions: where responses are stored, and how.
    public struct Cache: Sendable, Equatable {
        public enum Store: Sendable, Equatable {
            /// `cache memory 256m`: this process only.
            case memory(capacity: Int)
            /// `cache redis://host:port/db`: shared by every proxy that names it, with a memory tier in front.
            case redis(url: String)
            /// `cache redis-cluster://host1:port1,host2:port2`
            case redisCluster(urls: [String])
        }

        public var store: Store
        /// The memory tier in front of Redis (`cache redis://… memory-tier=64m`; 0 turns it off).
        public var memoryTier = 64 << 20
        /// `cache-max-object 64m`: larger responses are passed through, not stored.
        public var maxObjectSize = 64 << 20
        /// `cache-lock-timeout 5s`: how long concurrent misses for one URL wait for the first to fill it
        /// (nginx's `proxy_cache_lock_timeout`); after that they go to the upstream themselves.
        public var lockTimeout: Duration = .seconds(5)
        /// `cache-store-timeout 250ms`: the longest a request waits for Redis before it is a miss.
        public var storeTimeout: Duration = .milliseconds(250)
        /// How long a stale response with a validator is kept to be revalidated (`cache-keep-stale 1h`).
        public var keepStale: Duration = .seconds(3600)
        public var location: SourceLocation

        public init(store: Store, location: SourceLocation) {
            self.store = store
            self.location = location
        }
    }
}

/// An address or a CIDR block (`127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`), for allow lists.
public struct AddressRange: Sendable, Hashable, CustomStringConvertible {
    /// 16 bytes; IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so one comparison serves both.
    let bytes: [UInt8]
    let prefixLength: Int

    public static let loopback: [AddressRange] = [AddressRange("127.0.0.0/8")!, AddressRange("::1")!]

    public init?(_ text: String) {
        var addressText = Substring(text)
        var prefix: Int?
        if let slash = text.firstIndex(of: "/") {
            addressText = text[..<slash]
            guard let value = Int(text[text.index(after: slash)...]), value >= 0 else { return nil }
            prefix = value
        }
        guard let bytes = Self.parse(addressText) else { return nil }
        let isV4 = !addressText.contains(":")
        let bits = prefix.map { isV4 ? $0 + 96 : $0 } ?? 128
        guard bits <= 128, prefix.map({ isV4 ? $0 <= 32 : $0 <= 128 }) ?? true else { return nil }
        self.bytes = bytes
        self.prefixLength = bits
    }

    public var description: String {
        let isV4 = self.bytes[0..<10].allSatisfy { $0 == 0 } && self.bytes[10] == 0xFF && self.bytes[11] == 0xFF
        if isV4 {
            let text = self.bytes[12...].map(String.init).joined(separator: ".")
            return self.prefixLength == 128 ? text : "\(text)/\(self.prefixLength - 96)"
        }
        var groups: [String] = []
        for index in stride(from: 0, to: 16, by: 2) {
            groups.append(String(UInt16(self.bytes[index]) << 8 | UInt16(self.bytes[index + 1]), radix: 16))
        }
        let text = groups.joined(separator: ":")
        return self.prefixLength == 128 ? text : "\(text)/\(self.prefixLength)"
    }

    /// Whether `address` (an IP address as text, as `SocketAddress.ipAddress` gives it) lies in this range.
    public func contains(_ address: String) -> Bool {
        guard let other = Self.parse(Substring(address)) else { return false }
        var remaining = self.prefixLength
        var index = 0
        while remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if self.bytes[index] & mask != other[index] & mask { return false }
            remaining -= 8
            index += 1
        }
        return true
    }

    static func parse(_ text: Substring) -> [UInt8]? {
        if !text.contains(":") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var bytes = [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF]
            for part in parts {
                guard !part.isEmpty, part.count <= 3, let value = UInt8(part) else { return nil }
                bytes.append(value)
            }
            return bytes
        }
        // IPv6, with at most one `::`, and an optional dotted IPv4 tail.
        var text = text
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }  // zone index
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt8]? {
            if part.isEmpty { return [] }
            var bytes: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = Self.parse(piece) else { return nil }
                    bytes += v4[12...]
                    continue
                }
                guard !piece.isEmpty, piece.count <= 4, let value = UInt16(piece, radix: 16) else { return nil }
                bytes += [UInt8(value >> 8), UInt8(value & 0xFF)]
            }
            return bytes
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}

extension Array where Element == AddressRange {
    func allows(_ address: String) -> Bool { self.contains { $0.contains(address) } }
}
