/// The hardening directives of the `limits { }` block that take more than one value.
extension ConfigInterpreter {
    /// `rate-limit 10r/s [burst=20]`, `rate-limit 600r/m`, `rate-limit off`. Without `burst`, the
    /// bucket holds one second's worth of requests (at least one).
    mutating func rateLimit(_ arguments: [ConfigToken], spec: DirectiveSpec) -> ProxyConfiguration.RateLimit? {
        let rateToken = arguments[0]
        if rateToken.text == "off" {
            if arguments.count > 1 { self.extraArgument(arguments[1], to: spec) }
            return nil
        }
        let expectedRate = "a rate like 10r/s or 600r/m"
        let text = rateToken.text
        let perMinute = text.hasSuffix("r/m")
        guard text.hasSuffix("r/s") || perMinute, let number = Double(text.dropLast(3)), number.isFinite, number > 0,
            number <= 1_000_000
        else {
            self.expected(expectedRate, got: text, at: rateToken.location)
            return nil
        }
        let rate = perMinute ? number / 60 : number
        var burst = max(1, Int(rate.rounded(.up)))
        if arguments.count > 1 {
            let burstToken = arguments[1]
            guard burstToken.text.hasPrefix("burst=") else {
                self.expected("burst=COUNT", got: burstToken.text, at: burstToken.location)
                return nil
            }
            guard let count = self.count(String(burstToken.text.dropFirst(6)), at: burstToken.location(atOffset: 6), atLeast: 1, what: "a burst")
            else { return nil }
            burst = count
        }
        return .init(requestsPerSecond: rate, burst: burst)
    }
}
