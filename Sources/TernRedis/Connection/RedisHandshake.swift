import NIOCore

/// The commands a new connection sends before it carries anyone's commands, as a pure value:
/// `HELLO 3` (with `AUTH` and `SETNAME` folded in), falling back to RESP2 with `AUTH` and
/// `CLIENT SETNAME` when the server predates `HELLO`; then `SELECT`. Each reply yields the next step.
struct RedisHandshake {
    enum Step: Equatable {
        case send(ByteBuffer)
        case done(RedisConfiguration.ProtocolVersion)
        case fail(RedisError)
    }

    private enum Stage {
        case hello, auth, setName, select, finished
    }

    private let username: String?
    private let password: String?
    private let clientName: String?
    private let database: Int
    private let wantsRESP3: Bool
    private let address: String
    private var stage: Stage = .hello
    private(set) var protocolVersion = RedisConfiguration.ProtocolVersion.resp2

    init(configuration: RedisConfiguration, address: String) {
        self.username = configuration.username
        self.password = configuration.password
        self.clientName = configuration.clientName
        self.database = configuration.database
        self.wantsRESP3 = configuration.protocolVersion == .resp3
        self.address = address
    }

    /// The first step, when the channel becomes active.
    mutating func start() -> Step {
        if self.wantsRESP3 {
            self.stage = .hello
            return .send(self.hello())
        }
        return self.after(.hello)
    }

    /// The reply to the step last sent.
    mutating func received(_ reply: RESPValue) -> Step {
        if case .error(let message) = reply {
            let text = String(buffer: message)
            // Servers before 6.0 do not know HELLO; 6.x without RESP3 answer NOPROTO.
            if self.stage == .hello, text.hasPrefix("NOPROTO") || text.lowercased().contains("unknown command") {
                return self.after(.hello)
            }
            self.stage = .finished
            return .fail(RedisError.server(text, address: self.address))
        }
        if self.stage == .hello { self.protocolVersion = .resp3 }
        return self.after(self.stage)
    }

    /// The step after `stage`, skipping what the configuration does not need.
    private mutating func after(_ stage: Stage) -> Step {
        var next = stage
        while true {
            switch next {
            case .hello:
                next = .auth
                if self.protocolVersion == .resp2, let password = self.password {
                    self.stage = .auth
                    var parts = 2
                    if self.username != nil { parts += 1 }
                    var encoder = RedisCommandEncoder("AUTH", parts: parts, hashesKeys: false)
                    if let username { encoder.argument(username) }
                    encoder.argument(password)
                    return .send(encoder.command.bytes)
                }
            case .auth:
                next = .setName
                if self.protocolVersion == .resp2, let clientName {
                    self.stage = .setName
                    var encoder = RedisCommandEncoder("CLIENT", parts: 3, hashesKeys: false)
                    encoder.argument("SETNAME" as StaticString)
                    encoder.argument(clientName)
                    return .send(encoder.command.bytes)
                }
            case .setName:
                next = .select
                if self.database != 0 {
                    self.stage = .select
                    var encoder = RedisCommandEncoder("SELECT", parts: 2, hashesKeys: false)
                    encoder.argument(self.database)
                    return .send(encoder.command.bytes)
                }
            case .select, .finished:
                self.stage = .finished
                return .done(self.protocolVersion)
            }
        }
    }

    private func hello() -> ByteBuffer {
        var parts = 2
        if self.password != nil { parts += 3 }
        if self.clientName != nil { parts += 2 }
        var encoder = RedisCommandEncoder("HELLO", parts: parts, hashesKeys: false)
        encoder.argument(3)
        if let password {
            encoder.argument("AUTH" as StaticString)
            encoder.argument(self.username ?? "default")
            encoder.argument(password)
        }
        if let clientName {
            encoder.argument("SETNAME" as StaticString)
            encoder.argument(clientName)
        }
        return encoder.command.bytes
    }
}
