/// `admin ENDPOINT`, `admin-allow ADDRESS[/PREFIX] …` and `tls-reload-interval DURATION|off`.
extension ConfigInterpreter {
    mutating func admin(_ directive: ConfigDirective, _ token: ConfigToken) {
        guard let endpoint = self.endpoint(token) else { return }
        if case .ssl = endpoint {
            self.error("the admin listener speaks plain HTTP: use tcp:PORT[:interface=ADDRESS] or unix:PATH", at: token.location)
            return
        }
        // Port 0 asks for a free port each time: no clash. Listeners written after this line are not compared.
        let identity: String?
        switch endpoint {
        case .tcp(let port, let interface), .ssl(let port, let interface, _):
            identity = port == 0 ? nil : "\(port) \(ConfigValue.canonicalIPAddress(interface))"
        case .unix(let path):
            identity = path
        }
        if let identity, let first = self.listenerLocations[identity] {
            self.error("the admin listener's address is already used by the listener at \(first)", at: token.location)
            return
        }
        self.configuration.admin.endpoint = endpoint
        self.configuration.admin.location = directive.location
    }

    mutating func adminAllow(_ arguments: [ConfigToken]) {
        var ranges: [AddressRange] = []
        for token in arguments {
            guard let range = AddressRange(parsing: token.text) else {
                self.expected("an IP address or a network like 10.0.0.0/8 or fd00::/8", got: token.text, at: token.location)
                continue
            }
            ranges.append(range)
        }
        self.configuration.admin.allow = ranges
    }

    mutating func certificateReloadInterval(_ token: ConfigToken) {
        if token.text == "off" {
            self.configuration.certificateReloadInterval = nil
            return
        }
        guard let interval = self.positiveDuration(token.text, at: token.location) else { return }
        guard interval >= .milliseconds(100) else {
            self.expected("an interval of 100ms or more, or 'off'", got: token.text, at: token.location)
            return
        }
        self.configuration.certificateReloadInterval = interval
    }
}
