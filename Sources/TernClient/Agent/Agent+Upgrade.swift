import NIOCore
import NIOHTTP1
import NIOSSL

extension Agent {
    /// Sends one request that asks to switch protocols (`Connection: upgrade` and `Upgrade`, e.g. a
    /// WebSocket handshake) on a connection of its own: opened for it, never taken from or returned
    /// to a pool. On `101` the delegate receives the channel with its HTTP handlers removed; on any
    /// other answer the response is streamed to the delegate and the connection closed after it.
    ///
    /// Must be called on `eventLoop`, one of this agent's loops; every callback runs there. The head
    /// is sent as given (a `Host` is added when missing); its body, if any, is not supported: the
    /// request is sent with none.
    public func executeUpgrade(
        _ head: HTTPRequestHead,
        to origin: Origin,
        tls: TLSSettings? = nil,
        on eventLoop: any EventLoop,
        connectTimeout: TimeAmount? = nil,
        readTimeout: TimeAmount? = nil,
        delegate: any UpgradeDelegate
    ) -> UpgradeExchange {
        eventLoop.preconditionInEventLoop()
        var head = head
        if !head.headers.contains(name: "host") { head.headers.add(name: "Host", value: origin.hostHeader) }
        if let userAgent = self.configuration.userAgent, !head.headers.contains(name: "user-agent") {
            head.headers.add(name: "User-Agent", value: userAgent)
        }
        head.headers.remove(name: "content-length")
        head.headers.remove(name: "transfer-encoding")
        let exchange = UpgradeExchange(
            head: head,
            eventLoop: eventLoop,
            address: origin.address,
            readTimeout: readTimeout ?? self.configuration.readTimeout,
            delegate: delegate
        )
        if self.isShutDown.load(ordering: .acquiring) {
            exchange.fail(TernClientError(code: .shutdown, phase: .pool, address: origin.address))
            return exchange
        }
        let settings = origin.scheme.usesTLS ? (tls ?? self.configuration.tls) : nil
        var sslContext: NIOSSLContext?
        if let settings {
            do {
                sslContext = try self.sslContext(for: settings)
            } catch {
                exchange.fail(error)
                return exchange
            }
        }
        let factory = ConnectionFactory(
            origin: origin,
            configuration: self.configuration,
            sslContext: sslContext,
            tls: settings ?? TLSSettings()
        )
        let boundExchange = NIOLoopBound(exchange, eventLoop: eventLoop)
        factory.makeChannel(on: eventLoop, connectTimeout: connectTimeout, decompression: .disabled) {
            UpgradeConnection(exchange: boundExchange.value)
        }.assumeIsolated().whenComplete { result in
            let exchange = boundExchange.value
            switch result {
            case .success(let channel):
                guard !exchange.isCancelled,
                    let connection = try? channel.pipeline.syncOperations.handler(type: UpgradeConnection.self)
                else {
                    channel.close(promise: nil)
                    return
                }
                connection.start()
            case .failure(let error):
                exchange.fail(error as? TernClientError ?? ConnectionFactory.connectError(error, address: origin.address))
            }
        }
        return exchange
    }
}
