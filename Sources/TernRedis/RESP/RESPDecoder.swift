import NIOCore

/// Why the bytes from the server are not RESP. Any of these closes the connection: after a
/// malformed reply there is no telling where the next one starts.
public struct RESPDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        case unknownType, missingLineFeed, lineTooLong, invalidInteger, invalidLength, invalidDouble
        case invalidBoolean, invalidNull, invalidBigNumber, invalidVerbatimString
        case bulkTooLong, aggregateTooLarge, nestedTooDeep, streamedTypeUnsupported
    }

    public var reason: Reason
    /// The type byte of the offending element.
    public var typeByte: UInt8

    public var description: String {
        let type = (0x21...0x7E).contains(self.typeByte) ? "'\(Character(Unicode.Scalar(self.typeByte)))'" : "0x\(String(self.typeByte, radix: 16))"
        return "\(self.reason.rawValue) (element type \(type))"
    }
}

/// An incremental RESP2/RESP3 decoder: a pure value fed the bytes of one connection as they
/// arrive. Each call takes at most one complete reply off the front of the buffer; a partial
/// element stays in the buffer until the rest arrives, while the aggregates already begun are kept
/// on a stack, so a large reply arriving in many reads is parsed once, not once per read.
///
/// Everything is bounded, so a hostile or broken server gets an error and never a crash, a loop or
/// unbounded memory: the nesting depth, the length of a bulk string, the element count of an
/// aggregate, and the length of a line (the buffer never holds more than one unfinished element
/// plus one read).
public struct RESPDecoder: Sendable {
    public struct Limits: Sendable, Hashable {
        /// Aggregates inside aggregates. Redis itself nests only a few levels deep.
        public var maxDepth: Int
        /// The longest bulk string accepted (Redis's own `proto-max-bulk-len` is 512 MiB).
        public var maxBulkLength: Int
        /// Elements in one aggregate; a map of n pairs counts 2n.
        public var maxAggregateCount: Int
        /// The longest simple string, error or number line.
        public var maxLineLength: Int

        public init(
            maxDepth: Int = 32,
            maxBulkLength: Int = 512 * 1024 * 1024,
            maxAggregateCount: Int = 1 << 22,
            maxLineLength: Int = 64 * 1024
        ) {
            self.maxDepth = maxDepth
            self.maxBulkLength = maxBulkLength
            self.maxAggregateCount = maxAggregateCount
            self.maxLineLength = maxLineLength
        }
    }

    private enum Kind: UInt8 {
        case array, set, push, map, attribute
    }

    private struct Frame {
        var kind: Kind
        var remaining: Int
        var elements: [RESPValue]
    }

    private enum Token {
        case value(RESPValue)
        case aggregate(Kind, count: Int)
    }

    public let limits: Limits
    private var stack: [Frame] = []

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Whether an aggregate has begun and not ended: a close now would cut a reply in half.
    public var isMidReply: Bool { !self.stack.isEmpty }

    /// The aggregates begun and not ended.
    public var depth: Int { self.stack.count }

    /// Takes the next complete reply off the front of `buffer`, or returns nil when more bytes are
    /// needed. Throws when the bytes are not RESP; the decoder is then unusable.
    public mutating func decode(_ buffer: inout ByteBuffer) throws(RESPDecodingError) -> RESPValue? {
        parsing: while true {
            guard let token = try self.nextToken(&buffer) else { return nil }
            var value: RESPValue
            switch token {
            case .value(let scalar):
                value = scalar
            case .aggregate(let kind, let count):
                if count > 0 {
                    guard self.stack.count < self.limits.maxDepth else {
                        throw RESPDecodingError(reason: .nestedTooDeep, typeByte: Self.typeByte(kind))
                    }
                    var elements: [RESPValue] = []
                    elements.reserveCapacity(min(count, 64))
                    self.stack.append(Frame(kind: kind, remaining: count, elements: elements))
                    continue parsing
                }
                if kind == .attribute { continue parsing }
                value = Self.make(kind, [])
            }
            // Fold the finished value into the aggregates that hold it.
            while !self.stack.isEmpty {
                let top = self.stack.count - 1
                self.stack[top].elements.append(value)
                self.stack[top].remaining -= 1
                if self.stack[top].remaining > 0 { continue parsing }
                let frame = self.stack.removeLast()
                // An attribute describes the element after it and is not itself an element.
                if frame.kind == .attribute { continue parsing }
                value = Self.make(frame.kind, frame.elements)
            }
            return value
        }
    }

    private static func make(_ kind: Kind, _ elements: [RESPValue]) -> RESPValue {
        switch kind {
        case .array: return .array(elements)
        case .set: return .set(elements)
        case .push: return .push(elements)
        case .map, .attribute:
            var pairs: [(key: RESPValue, value: RESPValue)] = []
            pairs.reserveCapacity(elements.count / 2)
            var index = 0
            while index + 1 < elements.count {
                pairs.append((key: elements[index], value: elements[index + 1]))
                index += 2
            }
            return .map(pairs)
        }
    }

    private static func typeByte(_ kind: Kind) -> UInt8 {
        switch kind {
        case .array: return UInt8(ascii: "*")
        case .set: return UInt8(ascii: "~")
        case .push: return UInt8(ascii: ">")
        case .map: return UInt8(ascii: "%")
        case .attribute: return UInt8(ascii: "|")
        }
    }

    /// One element header or scalar from the front of the buffer. The reader index moves only when
    /// the whole token is there.
    private func nextToken(_ buffer: inout ByteBuffer) throws(RESPDecodingError) -> Token? {
        let readable = buffer.readableBytes
        guard readable >= 3 else { return nil }
        let searchLimit = min(readable, self.limits.maxLineLength + 3)
        // Where the line's CR is, relative to the reader index: -1 incomplete, -2 CR not followed by LF.
        let (type, cr) = buffer.withUnsafeReadableBytes { bytes -> (UInt8, Int) in
            let type = bytes[0]
            var index = 1
            while index < searchLimit {
                if bytes[index] == 13 {
                    guard index + 1 < readable else { return (type, -1) }
                    return (type, bytes[index + 1] == 10 ? index : -2)
                }
                index += 1
            }
            return (type, -1)
        }
        if cr == -2 { throw RESPDecodingError(reason: .missingLineFeed, typeByte: type) }
        if cr == -1 {
            if searchLimit < readable || readable >= self.limits.maxLineLength + 3 {
                throw RESPDecodingError(reason: .lineTooLong, typeByte: type)
            }
            try Self.checkType(type)
            return nil
        }
        let start = buffer.readerIndex
        let lineLength = cr - 1
        let line = buffer.getSlice(at: start + 1, length: lineLength)!
        let headerLength = cr + 2

        switch type {
        case UInt8(ascii: "+"):
            buffer.moveReaderIndex(forwardBy: headerLength)
            return .value(.simpleString(line))
        case UInt8(ascii: "-"):
            buffer.moveReaderIndex(forwardBy: headerLength)
            return .value(.error(line))
        case UInt8(ascii: ":"):
            guard let value = line.readableBytesView.parseDecimal() else {
                throw RESPDecodingError(reason: .invalidInteger, typeByte: type)
            }
            buffer.moveReaderIndex(forwardBy: headerLength)
            return .value(.integer(value))
        case UInt8(ascii: "_"):
            guard lineLength == 0 else { throw RESPDecodingError(reason: .invalidNull, typeByte: type) }
            buffer.moveReaderIndex(forwardBy: headerLength)
            return .value(.null)
        case UInt8(ascii: "#"):
            guard lineLength == 1 else { throw RESPDecodingError(reason: .invalidBoolean, typeByte: type) }
            let value: Bool
            switch line.getInteger(at: line.readerIndex, as: UInt8.self) {
            case UInt8(ascii: "t"): value = true
            case UInt8(ascii: "f"): value = false
            default: throw RESPDecodingError(reason: .invalidBoolean, typeByte: type)
            }
            buffer.moveReaderIndex(forwardBy: headerLength)
            return .value(.boolean(value))
        case UInt8(ascii: ","):
            guard lineLength > 0, lineLength <= 64, let value = Double(String(buffer: line)) else {
                throw RESPDecodingError(reason: .invalidDouble, typeByte: type)
            }
            buffer.moveReaderIndex(forwardBy: headerLength)
            return .value(.double(value))
        case UInt8(ascii: "("):
            guard Self.isBigNumber(line) else { throw RESPDecodingError(reason: .invalidBigNumber, typeByte: type) }
            buffer.moveReaderIndex(forwardBy: headerLength)
            return .value(.bigNumber(line))
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let length = try Self.length(line, type: type)
            if length == -1 {
                guard type == UInt8(ascii: "$") else { throw RESPDecodingError(reason: .invalidLength, typeByte: type) }
                buffer.moveReaderIndex(forwardBy: headerLength)
                return .value(.null)
            }
            guard length <= self.limits.maxBulkLength else { throw RESPDecodingError(reason: .bulkTooLong, typeByte: type) }
            guard readable >= headerLength + length + 2 else { return nil }
            guard buffer.getInteger(at: start + headerLength + length, as: UInt16.self) == 0x0D0A else {
                throw RESPDecodingError(reason: .missingLineFeed, typeByte: type)
            }
            var payload = buffer.getSlice(at: start + headerLength, length: length)!
            buffer.moveReaderIndex(forwardBy: headerLength + length + 2)
            switch type {
            case UInt8(ascii: "!"):
                return .value(.error(payload))
            case UInt8(ascii: "="):
                // "txt:" or "mkd:" before the text.
                guard length >= 4, payload.getInteger(at: payload.readerIndex + 3, as: UInt8.self) == UInt8(ascii: ":") else {
                    throw RESPDecodingError(reason: .invalidVerbatimString, typeByte: type)
                }
                payload.moveReaderIndex(forwardBy: 4)
                return .value(.bulkString(payload))
            default:
                return .value(.bulkString(payload))
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            let count = try Self.length(line, type: type)
            if count == -1 {
                guard type == UInt8(ascii: "*") else { throw RESPDecodingError(reason: .invalidLength, typeByte: type) }
                buffer.moveReaderIndex(forwardBy: headerLength)
                return .value(.null)
            }
            let kind: Kind
            var elements = count
            switch type {
            case UInt8(ascii: "*"): kind = .array
            case UInt8(ascii: "~"): kind = .set
            case UInt8(ascii: ">"): kind = .push
            case UInt8(ascii: "%"):
                kind = .map
                elements = count.multipliedReportingOverflow(by: 2).overflow ? Int.max : count * 2
            default:
                kind = .attribute
                elements = count.multipliedReportingOverflow(by: 2).overflow ? Int.max : count * 2
            }
            guard elements <= self.limits.maxAggregateCount else {
                throw RESPDecodingError(reason: .aggregateTooLarge, typeByte: type)
            }
            buffer.moveReaderIndex(forwardBy: headerLength)
            return .aggregate(kind, count: elements)
        default:
            throw RESPDecodingError(reason: .unknownType, typeByte: type)
        }
    }

    private static func checkType(_ type: UInt8) throws(RESPDecodingError) {
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "_"), UInt8(ascii: "#"),
            UInt8(ascii: ","), UInt8(ascii: "("), UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="),
            UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            return
        default:
            throw RESPDecodingError(reason: .unknownType, typeByte: type)
        }
    }

    /// A length or count: a non-negative decimal, or -1 for null.
    private static func length(_ line: ByteBuffer, type: UInt8) throws(RESPDecodingError) -> Int {
        if line.readableBytes == 1, line.getInteger(at: line.readerIndex, as: UInt8.self) == UInt8(ascii: "?") {
            throw RESPDecodingError(reason: .streamedTypeUnsupported, typeByte: type)
        }
        guard line.readableBytes <= 20, let value = line.readableBytesView.parseDecimal(), value >= -1 else {
            throw RESPDecodingError(reason: .invalidLength, typeByte: type)
        }
        return value
    }

    private static func isBigNumber(_ line: ByteBuffer) -> Bool {
        let view = line.readableBytesView
        guard var index = view.first.map({ _ in view.startIndex }) else { return false }
        if view[index] == UInt8(ascii: "-") || view[index] == UInt8(ascii: "+") { index += 1 }
        guard index < view.endIndex else { return false }
        return view[index...].allSatisfy { $0 >= 48 && $0 <= 57 }
    }
}
