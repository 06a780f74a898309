import NIOCore

/// The small value syntaxes of proxy.conf, as pure functions: nil means "not that kind of value",
/// and the caller says what was expected. nginx's spellings where it has them (`10k`, `1m30s`,
/// `0` for "off" on some limits), binary units for sizes.
enum ConfigValue {
    static let expectedSize = "a size like 512, 10k, 10m or 1g"
    static let expectedDuration = "a duration like 5s or 500ms"
    static let expectedPort = "a port from 1 to 65535"
    static let expectedStatus = "a status code from 100 to 599"
    static let expectedOnOff = "'on' or 'off'"

    /// Decimal digits only: no sign, no spaces, no overflow.
    static func integer(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy(Self.isDigit) else { return nil }
        return Int(text)
    }

    /// `512`, `10k`, `10m`, `1g` (also upper case): bytes, in binary units.
    static func size(_ text: String) -> Int? {
        var digits = Substring(text)
        var multiplier = 1
        switch text.last {
        case "k", "K": multiplier = 1 << 10
        case "m", "M": multiplier = 1 << 20
        case "g", "G": multiplier = 1 << 30
        default: break
        }
        if multiplier > 1 { digits = digits.dropLast() }
        guard let value = Self.integer(digits) else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    /// `500ms`, `5s`, `2m`, `1h`, `1d`, run together as in nginx (`1m30s`); a bare number is seconds.
    static func duration(_ text: String) -> Duration? {
        if let seconds = Self.integer(text) { return .seconds(seconds) }
        var milliseconds: Int64 = 0
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard let value = Self.integer(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix(while: { $0.isASCII && $0.isLetter })
            rest = rest.dropFirst(unit.count)
            let scale: Int64
            switch unit {
            case "ms": scale = 1
            case "s": scale = 1000
            case "m": scale = 60_000
            case "h": scale = 3_600_000
            case "d": scale = 86_400_000
            default: return nil
            }
            let (part, overflow) = Int64(value).multipliedReportingOverflow(by: scale)
            guard !overflow else { return nil }
            let (sum, overflowSum) = milliseconds.addingReportingOverflow(part)
            guard !overflowSum else { return nil }
            milliseconds = sum
        }
        return .milliseconds(milliseconds)
    }

    static func port(_ text: some StringProtocol) -> Int? {
        guard let port = Self.integer(text), (1...65535).contains(port) else { return nil }
        return port
    }

    static func status(_ text: some StringProtocol) -> Int? {
        guard text.utf8.count == 3, let status = Self.integer(text), (100...599).contains(status) else { return nil }
        return status
    }

    static func onOff(_ text: String) -> Bool? {
        switch text {
        case "on": true
        case "off": false
        default: nil
        }
    }

    /// An IPv4 or IPv6 address as `inet_pton` reads it (through NIO), without brackets.
    static func isIPAddress(_ text: String) -> Bool {
        guard !text.isEmpty, !text.utf8.contains(0) else { return false }
        return (try? SocketAddress(ipAddress: text, port: 0)) != nil
    }

    /// The address in its canonical form (`0:0::1` → `::1`), to compare two spellings.
    static func canonicalIPAddress(_ text: String) -> String {
        (try? SocketAddress(ipAddress: text, port: 0))?.ipAddress ?? text
    }

    /// Letters, digits, `-`, `_` and dots between non-empty labels (`_` is common in internal names).
    static func isHostName(_ text: some StringProtocol) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63
                && label.utf8.allSatisfy { Self.isDigit($0) || Self.isLetter($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
        }
    }

    /// An HTTP field name: RFC 9110 §5.1 (`token`).
    static func isHeaderName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(Self.isTokenCharacter)
    }

    /// An HTTP field value: RFC 9110 §5.5, visible characters, spaces and tabs (no CR, LF or NUL).
    static func isHeaderValue(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) }
    }

    /// A request path: starts with `/`; no query, fragment, spaces or controls.
    static func isPath(_ text: String) -> Bool {
        text.first == "/" && !text.unicodeScalars.contains { $0.value <= 0x20 || $0 == "?" || $0 == "#" || $0.value == 0x7F }
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        if Self.isDigit(byte) || Self.isLetter(byte) { return true }
        return "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}
