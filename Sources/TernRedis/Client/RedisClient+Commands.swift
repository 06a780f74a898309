import NIOCore

/// How long a key set with `SET` lives.
public enum RedisExpiration: Sendable, Hashable {
    /// `EX seconds`
    case seconds(Int)
    /// `PX milliseconds`
    case milliseconds(Int)
    /// `KEEPTTL`: keep the key's current time to live.
    case keepTTL
}

/// When `SET` writes.
public enum RedisSetCondition: Sendable, Hashable {
    /// `NX`: only if the key does not exist.
    case ifNotExists
    /// `XX`: only if the key exists.
    case ifExists
}

// The typed helpers the cache needs, at the future level: each must be called with one of the
// client's loops, and completes on it. `send` runs anything else.
extension RedisClient {
    /// Any command, with its arguments; the reply as the server sent it. An error reply fails the
    /// future with a `.server` `RedisError`. In a cluster the keys are found by the command's name
    /// (the first argument, for commands the client does not know).
    public func send(_ command: String, _ arguments: [RESPArgument] = [], on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue> {
        self.execute(.generic(command, arguments, hashesKeys: self.hashesKeys), on: eventLoop)
    }

    public func ping(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let command = RedisCommandEncoder("PING", parts: 1, hashesKeys: false).command
        return self.execute(command, on: eventLoop).map { _ in }
    }

    /// `GET key`: the value, or nil when the key does not exist.
    public func get(_ key: String, on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        var encoder = self.encoder("GET", parts: 2, on: eventLoop)
        encoder.key(key)
        return self.execute(encoder.command, on: eventLoop, pending: RedisPending.optionalBytes, convert: RedisReply.optionalBytes)
    }

    /// `SET key value [EX|PX|KEEPTTL] [NX|XX]`: whether the value was written (false only when
    /// the condition did not hold).
    @discardableResult
    public func set(
        _ key: String,
        _ value: ByteBuffer,
        expiration: RedisExpiration? = nil,
        condition: RedisSetCondition? = nil,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<Bool> {
        self.set(key, .bytes(value), expiration: expiration, condition: condition, on: eventLoop)
    }

    @discardableResult
    public func set(
        _ key: String,
        _ value: String,
        expiration: RedisExpiration? = nil,
        condition: RedisSetCondition? = nil,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<Bool> {
        self.set(key, .string(value), expiration: expiration, condition: condition, on: eventLoop)
    }

    private func set(
        _ key: String,
        _ value: RESPArgument,
        expiration: RedisExpiration?,
        condition: RedisSetCondition?,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<Bool> {
        var parts = 3
        switch expiration {
        case .seconds, .milliseconds: parts += 2
        case .keepTTL: parts += 1
        case nil: break
        }
        if condition != nil { parts += 1 }
        var capacity = 32 + key.utf8.count
        if case .bytes(let bytes) = value { capacity += bytes.readableBytes } else { capacity += 32 }
        var encoder = self.encoder("SET", parts: parts, capacity: capacity, on: eventLoop)
        encoder.key(key)
        encoder.argument(value)
        switch expiration {
        case .seconds(let seconds):
            encoder.argument("EX" as StaticString)
            encoder.argument(seconds)
        case .milliseconds(let milliseconds):
            encoder.argument("PX" as StaticString)
            encoder.argument(milliseconds)
        case .keepTTL:
            encoder.argument("KEEPTTL" as StaticString)
        case nil:
            break
        }
        switch condition {
        case .ifNotExists: encoder.argument("NX" as StaticString)
        case .ifExists: encoder.argument("XX" as StaticString)
        case nil: break
        }
        return self.execute(encoder.command, on: eventLoop, pending: RedisPending.notNull) { !$0.isNull }
    }

    /// `DEL key…`: how many keys existed.
    @discardableResult
    public func del(_ keys: [String], on eventLoop: any EventLoop) -> EventLoopFuture<Int> {
        self.keysCommand("DEL", keys, on: eventLoop)
    }

    /// `UNLINK key…`: like `DEL`, reclaiming the memory in the background.
    @discardableResult
    public func unlink(_ keys: [String], on eventLoop: any EventLoop) -> EventLoopFuture<Int> {
        self.keysCommand("UNLINK", keys, on: eventLoop)
    }

    private func keysCommand(_ name: StaticString, _ keys: [String], on eventLoop: any EventLoop) -> EventLoopFuture<Int> {
        var encoder = self.encoder(name, parts: 1 + keys.count, on: eventLoop)
        for key in keys { encoder.key(key) }
        return self.execute(encoder.command, on: eventLoop, pending: RedisPending.integer, convert: RedisReply.integer)
    }

    /// `PEXPIRE key ms` (or `EXPIRE` for whole seconds): whether the key exists and got the timeout.
    @discardableResult
    public func expire(_ key: String, after timeout: TimeAmount, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        let milliseconds = timeout.nanoseconds / 1_000_000
        var encoder: RedisCommandEncoder
        if milliseconds % 1000 == 0 {
            encoder = RedisCommandEncoder("EXPIRE", parts: 3, hashesKeys: self.hashesKeys)
            encoder.key(key)
            encoder.argument(Int(milliseconds / 1000))
        } else {
            encoder = RedisCommandEncoder("PEXPIRE", parts: 3, hashesKeys: self.hashesKeys)
            encoder.key(key)
            encoder.argument(Int(milliseconds))
        }
        return self.execute(encoder.command, on: eventLoop).flatMapThrowing(RedisReply.integer).map { $0 == 1 }
    }

    /// `MGET key…`: the values in the order of the keys, nil for missing ones.
    public func mget(_ keys: [String], on eventLoop: any EventLoop) -> EventLoopFuture<[ByteBuffer?]> {
        var encoder = RedisCommandEncoder("MGET", parts: 1 + keys.count, hashesKeys: self.hashesKeys)
        for key in keys { encoder.key(key) }
        return self.execute(encoder.command, on: eventLoop).flatMapThrowing { reply throws(RedisError) -> [ByteBuffer?] in
            guard let values = reply.array else { throw RedisReply.unexpected(reply, expected: "an array") }
            var result: [ByteBuffer?] = []
            result.reserveCapacity(values.count)
            for value in values { result.append(try RedisReply.optionalBytes(value)) }
            return result
        }
    }

    /// `HSET key field value…`: how many fields were added (not updated).
    @discardableResult
    public func hset(_ key: String, fields: [(String, RESPArgument)], on eventLoop: any EventLoop) -> EventLoopFuture<Int> {
        var encoder = RedisCommandEncoder("HSET", parts: 2 + 2 * fields.count, hashesKeys: self.hashesKeys, capacity: 64 + fields.count * 32)
        encoder.key(key)
        for (field, value) in fields {
            encoder.argument(field)
            encoder.argument(value)
        }
        return self.execute(encoder.command, on: eventLoop).flatMapThrowing(RedisReply.integer)
    }

    /// `HGETALL key`: the fields and values; empty when the key does not exist.
    public func hgetall(_ key: String, on eventLoop: any EventLoop) -> EventLoopFuture<[String: ByteBuffer]> {
        var encoder = RedisCommandEncoder("HGETALL", parts: 2, hashesKeys: self.hashesKeys)
        encoder.key(key)
        return self.execute(encoder.command, on: eventLoop).flatMapThrowing { reply throws(RedisError) -> [String: ByteBuffer] in
            guard let pairs = reply.pairs else { throw RedisReply.unexpected(reply, expected: "a map") }
            var result: [String: ByteBuffer] = [:]
            result.reserveCapacity(pairs.count)
            for (field, value) in pairs {
                guard let name = field.string, let bytes = value.bytes else {
                    throw RedisReply.unexpected(reply, expected: "string fields and values")
                }
                result[name] = bytes
            }
            return result
        }
    }

    /// `PUBLISH channel message`: how many subscribers received it.
    @discardableResult
    public func publish(_ message: ByteBuffer, to channel: String, on eventLoop: any EventLoop) -> EventLoopFuture<Int> {
        var encoder = RedisCommandEncoder("PUBLISH", parts: 3, hashesKeys: false, capacity: 48 + message.readableBytes)
        encoder.argument(channel)
        encoder.argument(message)
        return self.execute(encoder.command, on: eventLoop).flatMapThrowing(RedisReply.integer)
    }
}

/// Reading typed values out of replies.
enum RedisReply {
    static func optionalBytes(_ reply: RESPValue) throws(RedisError) -> ByteBuffer? {
        switch reply {
        case .null: return nil
        case .bulkString(let bytes), .simpleString(let bytes): return bytes
        default: throw Self.unexpected(reply, expected: "a string or null")
        }
    }

    static func integer(_ reply: RESPValue) throws(RedisError) -> Int {
        guard case .integer(let value) = reply else { throw Self.unexpected(reply, expected: "an integer") }
        return value
    }

    static func unexpected(_ reply: RESPValue, expected: String) -> RedisError {
        let kind: String
        switch reply {
        case .simpleString: kind = "simple string"
        case .error: kind = "error"
        case .integer: kind = "integer"
        case .bulkString: kind = "bulk string"
        case .null: kind = "null"
        case .double: kind = "double"
        case .boolean: kind = "boolean"
        case .bigNumber: kind = "big number"
        case .array: kind = "array"
        case .map: kind = "map"
        case .set: kind = "set"
        case .push: kind = "push"
        }
        return RedisError(code: .unexpectedReply, message: "expected \(expected), got a \(kind)")
    }
}
