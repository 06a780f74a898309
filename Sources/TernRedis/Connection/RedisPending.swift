import NIOCore

/// Who waits for a reply, and in what form. The typed helpers hand their own promise down to the
/// connection, which converts the reply when it arrives: one future per command, not two.
enum RedisPending {
    case value(EventLoopPromise<RESPValue>)
    /// `GET`: a string, or nil.
    case optionalBytes(EventLoopPromise<ByteBuffer?>)
    /// `SET`: whether it wrote (a null reply means the NX/XX condition did not hold).
    case notNull(EventLoopPromise<Bool>)
    case integer(EventLoopPromise<Int>)

    func succeed(_ reply: RESPValue) {
        switch self {
        case .value(let promise):
            promise.succeed(reply)
        case .optionalBytes(let promise):
            do {
                promise.succeed(try RedisReply.optionalBytes(reply))
            } catch {
                promise.fail(error)
            }
        case .notNull(let promise):
            promise.succeed(!reply.isNull)
        case .integer(let promise):
            do {
                promise.succeed(try RedisReply.integer(reply))
            } catch {
                promise.fail(error)
            }
        }
    }

    func fail(_ error: RedisError) {
        switch self {
        case .value(let promise): promise.fail(error)
        case .optionalBytes(let promise): promise.fail(error)
        case .notNull(let promise): promise.fail(error)
        case .integer(let promise): promise.fail(error)
        }
    }
}
