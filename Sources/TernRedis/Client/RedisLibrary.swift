import NIOCore

/// The Lua library `Lua/tern.lua`, compiled into the binary (`PackageResources`, Package.swift):
/// the cache's server-side functions. It is loaded with `FUNCTION LOAD REPLACE` the first time a
/// server is asked for one of its functions, and again when a server answers "Function not found"
/// (it restarted, or its functions were flushed).
enum RedisLibrary {
    /// The library's source.
    static let source = String(decoding: PackageResources.tern_lua, as: UTF8.self)

    static let loadCommand: ByteBuffer = {
        var encoder = RedisCommandEncoder("FUNCTION", parts: 4, hashesKeys: false, capacity: source.utf8.count + 64)
        encoder.argument("LOAD" as StaticString)
        encoder.argument("REPLACE" as StaticString)
        encoder.argument(source)
        return encoder.command.bytes
    }()
}

extension RedisClient {
    /// Calls a function of the Tern Lua library (`FCALL`), loading the library first if the
    /// server does not have it.
    public func fcall(
        _ function: String,
        keys: [String] = [],
        arguments: [RESPArgument] = [],
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<RESPValue> {
        var encoder = RedisCommandEncoder("FCALL", parts: 3 + keys.count + arguments.count, hashesKeys: self.hashesKeys)
        encoder.argument(function)
        encoder.argument(keys.count)
        for key in keys { encoder.key(key) }
        for argument in arguments { encoder.argument(argument) }
        let command = encoder.command
        return self.withLoop(eventLoop) { loop in
            loop.execute(command, usesLibrary: true).flatMapError { error in
                guard let error = error as? RedisError, error.code == .server,
                    error.message?.contains("Function not found") == true
                else { return loop.eventLoop.makeFailedFuture(error) }
                loop.forgetLibrary()
                return loop.execute(command, usesLibrary: true)
            }
        }
    }

    public func fcall(_ function: String, keys: [String] = [], arguments: [RESPArgument] = []) async throws -> RESPValue {
        try await self.fcall(function, keys: keys, arguments: arguments, on: self.anyEventLoop).get()
    }
}
