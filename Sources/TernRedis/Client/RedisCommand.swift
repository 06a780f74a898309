import NIOCore

/// A command encoded for the wire, with the cluster slot its keys hash to. Built once, off the
/// loop when called from `async` code, and copied into the connection's output buffer.
struct RedisCommand: Sendable {
    enum Routing: Sendable, Hashable {
        /// No key: any node will do.
        case any
        case slot(UInt16)
        /// Keys in different slots: refused in a cluster.
        case crossSlot
    }

    var bytes: ByteBuffer
    var routing: Routing

    static let allocator = ByteBufferAllocator()
}

/// Writes one command into a buffer: the array header, the name, then keys and arguments as bulk
/// strings. Keys are hashed to their slot only when the client talks to a cluster.
struct RedisCommandEncoder {
    private var buffer: ByteBuffer
    private var routing = RedisCommand.Routing.any
    private let hashesKeys: Bool

    /// `parts` counts the name and every key and argument.
    init(_ name: StaticString, parts: Int, hashesKeys: Bool, capacity: Int = 64) {
        self.init(name, parts: parts, hashesKeys: hashesKeys, reusing: RedisCommand.allocator.buffer(capacity: capacity))
    }

    /// Encodes into `buffer` (cleared first): the loop's scratch buffer, whose storage is reused
    /// from one command to the next when nothing else holds it.
    init(_ name: StaticString, parts: Int, hashesKeys: Bool, reusing buffer: ByteBuffer) {
        self.buffer = buffer
        self.buffer.clear()
        self.hashesKeys = hashesKeys
        self.buffer.writeRESPArrayHeader(parts)
        self.buffer.writeInteger(UInt8(ascii: "$"))
        self.buffer.writeDecimal(name.utf8CodeUnitCount)
        self.buffer.writeInteger(UInt16(0x0D0A))
        self.buffer.writeStaticString(name)
        self.buffer.writeInteger(UInt16(0x0D0A))
    }

    init(name: String, parts: Int, hashesKeys: Bool, capacity: Int = 64) {
        self.buffer = RedisCommand.allocator.buffer(capacity: capacity)
        self.hashesKeys = hashesKeys
        self.buffer.writeRESPArrayHeader(parts)
        self.buffer.writeRESPBulk(name)
    }

    mutating func key(_ key: String) {
        self.buffer.writeRESPBulk(key)
        if self.hashesKeys { self.route(HashSlot.slot(key)) }
    }

    mutating func key(_ key: RESPArgument) {
        self.buffer.writeRESPBulk(key)
        if self.hashesKeys { self.route(key.withBytes { HashSlot.slot($0) }) }
    }

    mutating func argument(_ argument: RESPArgument) { self.buffer.writeRESPBulk(argument) }
    mutating func argument(_ string: String) { self.buffer.writeRESPBulk(string) }
    mutating func argument(_ bytes: ByteBuffer) { self.buffer.writeRESPBulk(bytes) }
    mutating func argument(_ value: Int) { self.buffer.writeRESPBulk(value) }

    mutating func argument(_ word: StaticString) {
        self.buffer.writeInteger(UInt8(ascii: "$"))
        self.buffer.writeDecimal(word.utf8CodeUnitCount)
        self.buffer.writeInteger(UInt16(0x0D0A))
        self.buffer.writeStaticString(word)
        self.buffer.writeInteger(UInt16(0x0D0A))
    }

    private mutating func route(_ slot: UInt16) {
        switch self.routing {
        case .any: self.routing = .slot(slot)
        case .slot(let current) where current != slot: self.routing = .crossSlot
        default: break
        }
    }

    var command: RedisCommand { RedisCommand(bytes: self.buffer, routing: self.routing) }
}

extension RedisCommand {
    /// A command from its name and arguments, with the keys found by `RedisCommandKeys`.
    static func generic(_ name: String, _ arguments: [RESPArgument], hashesKeys: Bool) -> RedisCommand {
        var encoder = RedisCommandEncoder(name: name, parts: arguments.count + 1, hashesKeys: false, capacity: 32 + arguments.count * 16)
        for argument in arguments { encoder.argument(argument) }
        var command = encoder.command
        if hashesKeys {
            command.routing = RedisCommandKeys.routing(command: name, arguments: arguments)
        }
        return command
    }
}
