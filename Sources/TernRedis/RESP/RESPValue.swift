import NIOCore

/// One reply from the server, RESP2 or RESP3. Strings are slices of the buffer the bytes were read
/// into, so a reply is never copied on its way to the caller.
///
/// RESP3 attributes (`|`) are read and dropped; streamed strings and aggregates (`$?`, `*?`), which
/// Redis does not send, are protocol errors.
public enum RESPValue: Sendable {
    /// `+OK`
    case simpleString(ByteBuffer)
    /// `-ERR …` and RESP3 blob errors (`!`). The client turns an error *reply* into a thrown
    /// `RedisError`; this case appears only inside aggregates (the replies of `EXEC`, say).
    case error(ByteBuffer)
    case integer(Int)
    /// `$n` bulk strings and RESP3 verbatim strings (`=`, whose three-letter format is dropped).
    case bulkString(ByteBuffer)
    /// RESP3 `_`, RESP2 `$-1` and `*-1`.
    case null
    case double(Double)
    case boolean(Bool)
    /// RESP3 big numbers (`(`), as their decimal digits.
    case bigNumber(ByteBuffer)
    case array([RESPValue])
    /// RESP3 maps, in the server's order.
    case map([(key: RESPValue, value: RESPValue)])
    case set([RESPValue])
    /// RESP3 out-of-band pushes (pub/sub messages, invalidations).
    case push([RESPValue])
}

extension RESPValue: Equatable {
    public static func == (lhs: RESPValue, rhs: RESPValue) -> Bool {
        switch (lhs, rhs) {
        case (.simpleString(let a), .simpleString(let b)), (.error(let a), .error(let b)),
            (.bulkString(let a), .bulkString(let b)), (.bigNumber(let a), .bigNumber(let b)):
            return a == b
        case (.integer(let a), .integer(let b)): return a == b
        case (.null, .null): return true
        case (.double(let a), .double(let b)): return a == b || (a.isNaN && b.isNaN)
        case (.boolean(let a), .boolean(let b)): return a == b
        case (.array(let a), .array(let b)), (.set(let a), .set(let b)), (.push(let a), .push(let b)):
            return a == b
        case (.map(let a), .map(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default:
            return false
        }
    }
}

extension RESPValue {
    /// The bytes of a string-like reply (simple, bulk, verbatim, big number, error).
    public var bytes: ByteBuffer? {
        switch self {
        case .simpleString(let b), .bulkString(let b), .bigNumber(let b), .error(let b): return b
        default: return nil
        }
    }

    /// The text of a string-like reply, or the decimal form of a number.
    public var string: String? {
        switch self {
        case .simpleString(let b), .bulkString(let b), .bigNumber(let b), .error(let b): return String(buffer: b)
        case .integer(let i): return String(i)
        case .double(let d): return String(d)
        default: return nil
        }
    }

    /// An integer reply, or a string reply holding a decimal integer (RESP2 sends some numbers as strings).
    public var int: Int? {
        switch self {
        case .integer(let i): return i
        case .boolean(let b): return b ? 1 : 0
        case .simpleString(let b), .bulkString(let b), .bigNumber(let b): return b.readableBytesView.parseDecimal()
        default: return nil
        }
    }

    public var double: Double? {
        switch self {
        case .double(let d): return d
        case .integer(let i): return Double(i)
        case .simpleString(let b), .bulkString(let b): return Double(String(buffer: b))
        default: return nil
        }
    }

    /// The elements of an array, set or push reply.
    public var array: [RESPValue]? {
        switch self {
        case .array(let a), .set(let a), .push(let a): return a
        default: return nil
        }
    }

    /// Key-value pairs from a RESP3 map, or from a RESP2 array of alternating keys and values.
    public var pairs: [(key: RESPValue, value: RESPValue)]? {
        switch self {
        case .map(let m):
            return m
        case .array(let a) where a.count % 2 == 0:
            return stride(from: 0, to: a.count, by: 2).map { (key: a[$0], value: a[$0 + 1]) }
        default:
            return nil
        }
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

extension ByteBufferView {
    /// An optionally signed decimal integer filling the whole view, without overflow.
    func parseDecimal() -> Int? {
        var index = self.startIndex
        guard index < self.endIndex else { return nil }
        var negative = false
        if self[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
            guard index < self.endIndex else { return nil }
        }
        var value = 0
        while index < self.endIndex {
            let digit = Int(self[index]) &- 48
            guard digit >= 0, digit <= 9 else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            value = next
            index += 1
        }
        return value
    }
}
