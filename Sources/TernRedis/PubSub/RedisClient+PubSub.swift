import NIOCore

extension RedisClient {
    /// Subscribes to channels on a connection of its own and returns once the server has
    /// confirmed every subscription, so a message published afterwards is received. The stream
    /// ends when the consumer stops (the connection is then closed), fails with a
    /// `.connectionClosed` error when the connection is lost, and finishes when the client shuts
    /// down. At most `bufferLimit` messages wait for the consumer; older ones beyond are dropped.
    public func subscribe(to channels: [String], bufferLimit: Int = 10_000) async throws -> AsyncThrowingStream<RedisMessage, any Error> {
        try await self.subscribe("SUBSCRIBE", channels, bufferLimit: bufferLimit)
    }

    /// Like `subscribe(to:)`, with glob-style patterns (`PSUBSCRIBE`).
    public func psubscribe(to patterns: [String], bufferLimit: Int = 10_000) async throws -> AsyncThrowingStream<RedisMessage, any Error> {
        try await self.subscribe("PSUBSCRIBE", patterns, bufferLimit: bufferLimit)
    }

    private func subscribe(_ command: StaticString, _ targets: [String], bufferLimit: Int) async throws -> AsyncThrowingStream<RedisMessage, any Error> {
        guard !targets.isEmpty else {
            throw RedisError(code: .invalidConfiguration, message: "subscribe needs at least one channel")
        }
        let (stream, continuation) = AsyncThrowingStream<RedisMessage, any Error>.makeStream(
            bufferingPolicy: .bufferingNewest(bufferLimit)
        )
        var encoder = RedisCommandEncoder(command, parts: 1 + targets.count, hashesKeys: false)
        for target in targets { encoder.argument(target) }
        let bytes = encoder.command.bytes
        let count = targets.count
        try await self.withLoop(self.anyEventLoop) { loop in
            loop.subscribe(bytes, confirmations: count, continuation: continuation)
        }.get()
        return stream
    }
}

extension RedisLoop {
    func subscribe(
        _ bytes: ByteBuffer,
        confirmations: Int,
        continuation: AsyncThrowingStream<RedisMessage, any Error>.Continuation
    ) -> EventLoopFuture<Void> {
        guard !self.isShutDown else { return self.eventLoop.makeFailedFuture(RedisError(code: .shutdown)) }
        let endpoint = self.topology?.nodes.first ?? self.configuration.endpoints[0]
        let connection = RedisConnection(id: -1, address: endpoint.description, configuration: self.configuration, eventLoop: self.eventLoop)
        let key = ObjectIdentifier(connection)
        self.subscribers[key] = connection
        let confirmed = self.eventLoop.makePromise(of: Void.self)
        var remaining = confirmations

        connection.onPush = { value in
            switch RedisMessage.parse(value) {
            case .message(let message):
                continuation.yield(message)
            case .subscribed:
                remaining -= 1
                if remaining == 0 { confirmed.succeed() }
            case .unsubscribed, .other:
                break
            }
        }
        connection.onReady = { [unowned connection] version in
            // A RESP2 connection in subscribe mode answers with nothing but messages.
            if version == .resp2 { connection.repliesArePushes = true }
            _ = connection.sendUnanswered(bytes)
        }
        connection.onClose = { [weak self] error in
            confirmed.fail(error)
            guard let self else { return continuation.finish() }
            self.subscribers[key] = nil
            if self.isShutDown {
                continuation.finish()
            } else {
                continuation.finish(throwing: error)
            }
        }
        let bound = NIOLoopBound(connection, eventLoop: self.eventLoop)
        let eventLoop = self.eventLoop
        continuation.onTermination = { _ in
            eventLoop.execute { bound.value.close() }
        }
        self.factory.connect(connection, to: endpoint)
        return confirmed.futureResult
    }
}
