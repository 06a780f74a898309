import NIOCore

/// Which arguments of a command are keys, for routing a generic `send` in a cluster. Commands not
/// listed take their first argument as the key, as most do; keyless commands go to any node.
enum RedisCommandKeys {
    private enum Spec {
        case none
        case first
        case firstTwo
        case all
        case allButLast
        case everyOther
        /// `EVAL script numkeys key…`, `FCALL name numkeys key…`
        case numkeysAtSecond
    }

    private static let specs: [String: Spec] = {
        var specs: [String: Spec] = [:]
        for name in [
            "PING", "ECHO", "INFO", "AUTH", "HELLO", "SELECT", "CLIENT", "CLUSTER", "CONFIG", "COMMAND", "DBSIZE",
            "FLUSHALL", "FLUSHDB", "FUNCTION", "SCRIPT", "TIME", "KEYS", "SCAN", "RANDOMKEY", "PUBLISH", "PUBSUB",
            "MULTI", "EXEC", "DISCARD", "UNWATCH", "WAIT", "MEMORY", "SLOWLOG", "LATENCY", "ROLE", "LASTSAVE",
            "SAVE", "BGSAVE", "BGREWRITEAOF", "DEBUG", "READONLY", "READWRITE", "ASKING", "QUIT", "RESET",
        ] { specs[name] = Spec.none }
        for name in ["DEL", "UNLINK", "EXISTS", "TOUCH", "MGET", "WATCH", "SINTER", "SUNION", "SDIFF", "PFCOUNT",
                     "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE", "PFMERGE"] {
            specs[name] = .all
        }
        for name in ["RENAME", "RENAMENX", "SMOVE", "LMOVE", "BLMOVE", "RPOPLPUSH", "BRPOPLPUSH", "COPY"] {
            specs[name] = .firstTwo
        }
        for name in ["BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"] { specs[name] = .allButLast }
        for name in ["MSET", "MSETNX"] { specs[name] = .everyOther }
        for name in ["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"] { specs[name] = .numkeysAtSecond }
        return specs
    }()

    static func routing(command: String, arguments: [RESPArgument]) -> RedisCommand.Routing {
        let spec = Self.specs[command.uppercased()] ?? .first
        var routing = RedisCommand.Routing.any
        func add(_ argument: RESPArgument) {
            let slot = argument.withBytes { HashSlot.slot($0) }
            switch routing {
            case .any: routing = .slot(slot)
            case .slot(let current) where current != slot: routing = .crossSlot
            default: break
            }
        }
        switch spec {
        case .none:
            break
        case .first:
            if let first = arguments.first { add(first) }
        case .firstTwo:
            for argument in arguments.prefix(2) { add(argument) }
        case .all:
            for argument in arguments { add(argument) }
        case .allButLast:
            for argument in arguments.dropLast() { add(argument) }
        case .everyOther:
            for index in stride(from: 0, to: arguments.count, by: 2) { add(arguments[index]) }
        case .numkeysAtSecond:
            guard arguments.count >= 2 else { break }
            let numkeys: Int
            switch arguments[1] {
            case .integer(let value): numkeys = value
            case .string(let text): numkeys = Int(text) ?? 0
            case .bytes(let bytes): numkeys = bytes.readableBytesView.parseDecimal() ?? 0
            case .double: numkeys = 0
            }
            for argument in arguments.dropFirst(2).prefix(max(0, numkeys)) { add(argument) }
        }
        return routing
    }
}
