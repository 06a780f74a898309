import NIOCore

/// One argument of a command. Every argument goes to the server as a bulk string; numbers are
/// written as their decimal text straight into the output buffer.
public enum RESPArgument: Sendable, Hashable {
    case string(String)
    case bytes(ByteBuffer)
    case integer(Int)
    case double(Double)
}

extension RESPArgument: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension RESPArgument {
    /// The argument's bytes, for hashing a key to its cluster slot.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .string(var string):
            return string.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        case .bytes(let buffer):
            return buffer.withUnsafeReadableBytes(body)
        case .integer(let value):
            var text = String(value)
            return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        case .double(let value):
            var text = Self.format(value)
            return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        }
    }

    static func format(_ value: Double) -> String {
        if value.isInfinite { return value < 0 ? "-inf" : "+inf" }
        return String(value)
    }
}

extension ByteBuffer {
    /// `*n\r\n`: the header of a command of n parts (the name counts).
    mutating func writeRESPArrayHeader(_ count: Int) {
        self.writeInteger(UInt8(ascii: "*"))
        self.writeDecimal(count)
        self.writeInteger(UInt16(0x0D0A))
    }

    mutating func writeRESPBulk(_ string: String) {
        self.writeInteger(UInt8(ascii: "$"))
        self.writeDecimal(string.utf8.count)
        self.writeInteger(UInt16(0x0D0A))
        self.writeString(string)
        self.writeInteger(UInt16(0x0D0A))
    }

    mutating func writeRESPBulk(_ bytes: ByteBuffer) {
        self.writeInteger(UInt8(ascii: "$"))
        self.writeDecimal(bytes.readableBytes)
        self.writeInteger(UInt16(0x0D0A))
        self.writeImmutableBuffer(bytes)
        self.writeInteger(UInt16(0x0D0A))
    }

    mutating func writeRESPBulk(_ value: Int) {
        self.writeInteger(UInt8(ascii: "$"))
        self.writeDecimal(Self.decimalLength(value))
        self.writeInteger(UInt16(0x0D0A))
        self.writeDecimal(value)
        self.writeInteger(UInt16(0x0D0A))
    }

    mutating func writeRESPBulk(_ argument: RESPArgument) {
        switch argument {
        case .string(let string): self.writeRESPBulk(string)
        case .bytes(let bytes): self.writeRESPBulk(bytes)
        case .integer(let value): self.writeRESPBulk(value)
        case .double(let value): self.writeRESPBulk(RESPArgument.format(value))
        }
    }

    static func decimalLength(_ value: Int) -> Int {
        var length = value < 0 ? 2 : 1
        var rest = value.magnitude
        while rest >= 10 {
            rest /= 10
            length += 1
        }
        return length
    }

    /// The decimal text of `value`, without going through `String`.
    mutating func writeDecimal(_ value: Int) {
        if value >= 0 && value < 10 {
            self.writeInteger(UInt8(truncatingIfNeeded: 48 + value))
            return
        }
        let length = Self.decimalLength(value)
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { bytes in
            var rest = value.magnitude
            var index = length - 1
            repeat {
                bytes[index] = UInt8(truncatingIfNeeded: 48 + rest % 10)
                rest /= 10
                index -= 1
            } while rest > 0
            if value < 0 { bytes[0] = UInt8(ascii: "-") }
            return length
        }
    }
}
