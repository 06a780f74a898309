import NIOCore

/// A message received on a subscription.
public struct RedisMessage: Sendable, Hashable {
    public var channel: String
    /// The pattern that matched, for `psubscribe`.
    public var pattern: String?
    public var payload: ByteBuffer

    public init(channel: String, pattern: String? = nil, payload: ByteBuffer) {
        self.channel = channel
        self.pattern = pattern
        self.payload = payload
    }

    /// What a subscriber connection receives: a push in RESP3, a plain array in RESP2.
    enum Event: Equatable {
        case message(RedisMessage)
        case subscribed(String)
        case unsubscribed(String)
        case other
    }

    static func parse(_ value: RESPValue) -> Event {
        guard let parts = value.array, let kind = parts.first?.bytes else { return .other }
        switch String(buffer: kind).lowercased() {
        case "message", "smessage":
            guard parts.count == 3, let channel = parts[1].string, let payload = parts[2].bytes else { return .other }
            return .message(RedisMessage(channel: channel, payload: payload))
        case "pmessage":
            guard parts.count == 4, let pattern = parts[1].string, let channel = parts[2].string, let payload = parts[3].bytes
            else { return .other }
            return .message(RedisMessage(channel: channel, pattern: pattern, payload: payload))
        case "subscribe", "psubscribe", "ssubscribe":
            guard parts.count >= 2, let channel = parts[1].string else { return .other }
            return .subscribed(channel)
        case "unsubscribe", "punsubscribe", "sunsubscribe":
            guard parts.count >= 2, let channel = parts[1].string else { return .other }
            return .unsubscribed(channel)
        default:
            return .other
        }
    }
}
