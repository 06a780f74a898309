import NIOCore

// The `async` face of the typed helpers: each runs on the caller's loop if it is one of the
// client's, else on any of them.
extension RedisClient {
    public func send(_ command: String, _ arguments: [RESPArgument] = []) async throws -> RESPValue {
        try await self.send(command, arguments, on: self.anyEventLoop).get()
    }

    public func ping() async throws {
        try await self.ping(on: self.anyEventLoop).get()
    }

    public func get(_ key: String) async throws -> ByteBuffer? {
        try await self.get(key, on: self.anyEventLoop).get()
    }

    @discardableResult
    public func set(
        _ key: String,
        _ value: ByteBuffer,
        expiration: RedisExpiration? = nil,
        condition: RedisSetCondition? = nil
    ) async throws -> Bool {
        try await self.set(key, value, expiration: expiration, condition: condition, on: self.anyEventLoop).get()
    }

    @discardableResult
    public func set(
        _ key: String,
        _ value: String,
        expiration: RedisExpiration? = nil,
        condition: RedisSetCondition? = nil
    ) async throws -> Bool {
        try await self.set(key, value, expiration: expiration, condition: condition, on: self.anyEventLoop).get()
    }

    @discardableResult
    public func del(_ keys: String...) async throws -> Int {
        try await self.del(keys, on: self.anyEventLoop).get()
    }

    @discardableResult
    public func del(_ keys: [String]) async throws -> Int {
        try await self.del(keys, on: self.anyEventLoop).get()
    }

    @discardableResult
    public func unlink(_ keys: String...) async throws -> Int {
        try await self.unlink(keys, on: self.anyEventLoop).get()
    }

    @discardableResult
    public func unlink(_ keys: [String]) async throws -> Int {
        try await self.unlink(keys, on: self.anyEventLoop).get()
    }

    @discardableResult
    public func expire(_ key: String, after timeout: TimeAmount) async throws -> Bool {
        try await self.expire(key, after: timeout, on: self.anyEventLoop).get()
    }

    public func mget(_ keys: [String]) async throws -> [ByteBuffer?] {
        try await self.mget(keys, on: self.anyEventLoop).get()
    }

    @discardableResult
    public func hset(_ key: String, fields: [(String, RESPArgument)]) async throws -> Int {
        try await self.hset(key, fields: fields, on: self.anyEventLoop).get()
    }

    public func hgetall(_ key: String) async throws -> [String: ByteBuffer] {
        try await self.hgetall(key, on: self.anyEventLoop).get()
    }

    @discardableResult
    public func publish(_ message: ByteBuffer, to channel: String) async throws -> Int {
        try await self.publish(message, to: channel, on: self.anyEventLoop).get()
    }

    @discardableResult
    public func publish(_ message: String, to channel: String) async throws -> Int {
        try await self.publish(ByteBuffer(string: message), to: channel, on: self.anyEventLoop).get()
    }
}
