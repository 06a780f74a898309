/// The hardening directives of the `limits { }` block that take more than one value.
extension ConfigInterpreter {
    /// `rate-limit 10r/s [burst=20] [local]`, `rate-limit 600r/m`, `rate-limit off`. Without `burst`, the
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
        var local = false
        var seenBurst = false
        for token in arguments.dropFirst() {
            if token.text == "local" && !local {
                local = true
                continue
            }
            guard token.text.hasPrefix("burst="), !seenBurst else {
                self.expected(seenBurst ? "local" : (local ? "burst=COUNT" : "burst=COUNT or local"), got: token.text, at: token.location)
                return nil
            }
            guard let count = self.count(String(token.text.dropFirst(6)), at: token.location(atOffset: 6), atLeast: 1, what: "a burst")
            else { return nil }
            burst = count
            seenBurst = true
        }
        return .init(requestsPerSecond: rate, burst: burst, local: local)
    }
}
