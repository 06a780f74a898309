/// `listen ENDPOINT [{ certificate … ; redirect-https PORT }]`.
extension ConfigInterpreter {
    static let expectedEndpoint = "an endpoint like tcp:8080, ssl:8443:privateKey=key.pem:certKey=cert.pem or unix:/path"
    /// `sockaddr_un.sun_path` holds 104 bytes on macOS (108 on Linux), the last one NUL; NIO
    /// enforces the smaller.
    static let maximumSocketPathLength = 103

    mutating func listen(_ directive: ConfigDirective, _ token: ConfigToken) {
        let endpoint = self.endpoint(token)
        var listener: ProxyConfiguration.Listener?
        if let endpoint {
            listener = ProxyConfiguration.Listener(endpoint: endpoint, location: directive.location)
        }
        var certificates: [ProxyConfiguration.Certificate] = []
        var seen: [String: SourceLocation] = [:]
        for inner in directive.block?.directives ?? [] {
            guard let (spec, arguments) = self.accept(inner, in: .listen, seen: &seen) else { continue }
            switch spec.name {
            case "certificate":
                if let endpoint, !endpoint.isSSL {
                    self.error("'certificate' only applies to an ssl listener", at: inner.location)
                    continue
                }
                if let certificate = self.certificate(inner, arguments) { certificates.append(certificate) }
            case "redirect-https":
                if let endpoint, !endpoint.isTCP {
                    self.error("'redirect-https' only applies to a tcp listener", at: inner.location)
                    continue
                }
                listener?.redirectToHTTPSPort = self.value(arguments[0], expected: ConfigValue.expectedPort, ConfigValue.port)
            case "allow":
                for argument in arguments {
                    if let range = self.value(argument, expected: "an IP address or range like 10.0.0.0/8", { AddressRange(parsing: $0) }) {
                        listener?.allowedClients.append(range)
                    }
                }
            default: preconditionFailure("'\(spec.name)' is in the vocabulary in listen but has no handler")
            }
        }
        guard var listener else { return }
        if case .ssl(let port, let interface, let fromEndpoint) = listener.endpoint {
            let all = fromEndpoint + certificates
            if all.isEmpty {
                self.error(
                    "an ssl listener needs a certificate: add privateKey=FILE:certKey=FILE or a 'certificate' line in its block",
                    at: token.location)
                return
            }
            listener.endpoint = .ssl(port: port, interface: interface, certificates: all)
        }
        let identity: String
        let what: String
        switch listener.endpoint {
        case .tcp(let port, let interface), .ssl(let port, let interface, _):
            identity = "\(port) \(ConfigValue.canonicalIPAddress(interface))"
            what = "port \(port) on \(interface)"
        case .unix(let path):
            identity = path
            what = "unix socket \(path)"
        }
        if let first = self.listenerLocations[identity] {
            self.error("\(what) is already used by the listener at \(first)", at: token.location)
            return
        }
        self.listenerLocations[identity] = directive.location
        self.configuration.listeners.append(listener)
    }

    /// The endpoint string; for `ssl`, its certificates are the one named in the string, if any.
    mutating func endpoint(_ token: ConfigToken) -> ProxyConfiguration.Listener.Endpoint? {
        let description = EndpointString(parsing: token.text)
        let type = description.type.text.lowercased()
        let allowed: [String]
        switch type {
        case "tcp": allowed = ["port", "interface"]
        case "ssl": allowed = ["port", "interface", "privateKey", "certKey"]
        case "unix": allowed = ["address"]
        default:
            if let port = ConfigValue.port(token.text) {
                self.error(
                    "expected \(Self.expectedEndpoint), got '\(port)' (did you mean 'tcp:\(port)'?)", at: token.location)
            } else if description.positional.count == 1, description.keywords.isEmpty,
                ConfigValue.isIPAddress(description.type.text), let port = ConfigValue.port(description.positional[0].text)
            {
                self.error(
                    "expected \(Self.expectedEndpoint), got '\(Self.show(token.text))' (did you mean 'tcp:\(port):interface=\(description.type.text)'?)",
                    at: token.location)
            } else if description.positional.isEmpty && description.keywords.isEmpty {
                self.expected(Self.expectedEndpoint, got: token.text, at: token.location)
            } else {
                var message = "unknown endpoint type '\(Self.show(description.type.text))'"
                let aliases = ["tls": "ssl", "https": "ssl", "http": "tcp"]
                if let near = aliases[type] ?? ConfigVocabulary.nearest(to: type, among: ["tcp", "ssl", "unix"]) {
                    message += " (did you mean '\(near)'?)"
                } else {
                    message += " (expected tcp, ssl or unix)"
                }
                self.error(message, at: token.location)
            }
            return nil
        }

        var values: [String: EndpointString.Part] = [:]
        var failed = false
        for keyword in description.keywords {
            let location = token.location(atOffset: keyword.key.offset)
            guard allowed.contains(keyword.key.text) else {
                var message = "unknown option '\(Self.show(keyword.key.text))' for a \(type) endpoint"
                if let near = ConfigVocabulary.nearest(to: keyword.key.text, among: allowed) {
                    message += " (did you mean '\(near)'?)"
                } else {
                    message += " (options: \(allowed.joined(separator: ", ")))"
                }
                self.error(message, at: location)
                failed = true
                continue
            }
            if values[keyword.key.text] != nil {
                self.error("'\(keyword.key.text)' is given twice", at: location)
                failed = true
                continue
            }
            values[keyword.key.text] = keyword.value
        }
        // The one positional part is the port (the path for unix).
        let positionalKey = type == "unix" ? "address" : "port"
        for (index, part) in description.positional.enumerated() {
            if index == 0, values[positionalKey] == nil {
                values[positionalKey] = part
            } else {
                self.error("unexpected '\(Self.show(part.text))' in the endpoint", at: token.location(atOffset: part.offset))
                failed = true
            }
        }

        if type == "unix" {
            guard let address = values["address"], !address.text.isEmpty else {
                self.error("missing socket path in the endpoint (like unix:/run/tern.sock)", at: token.location)
                return nil
            }
            guard let path = self.socketPath(address.text, at: token.location(atOffset: address.offset)) else { return nil }
            return failed ? nil : .unix(path: path)
        }

        guard let portPart = values["port"] else {
            self.error("missing port in the endpoint (like \(type):\(type == "ssl" ? 8443 : 8080))", at: token.location)
            return nil
        }
        // Port 0 asks the system for a free port (tests, and `tern proxy` behind a launcher that reads it back).
        let port = self.value(
            portPart.text, at: token.location(atOffset: portPart.offset), expected: "a port from 0 to 65535",
            { ConfigValue.integer($0).flatMap { (0...65535).contains($0) ? $0 : nil } }
        )
        var interface = "0.0.0.0"
        if let part = values["interface"] {
            if ConfigValue.isIPAddress(part.text) {
                interface = part.text
            } else {
                self.expected("an IP address like 127.0.0.1 or ::1", got: part.text, at: token.location(atOffset: part.offset))
                failed = true
            }
        }
        guard let port, !failed else { return nil }
        if type == "tcp" { return .tcp(port: port, interface: interface) }

        var certificates: [ProxyConfiguration.Certificate] = []
        switch (values["privateKey"], values["certKey"]) {
        case (let key?, let chain):
            // Twisted: without certKey, the privateKey file holds the certificate too.
            let keyPath = self.filePath(key.text, at: token.location(atOffset: key.offset))
            let chainPath = chain.flatMap { self.filePath($0.text, at: token.location(atOffset: $0.offset)) } ?? keyPath
            guard let keyPath, let chainPath else { return nil }
            certificates.append(.init(certificateChainPath: chainPath, privateKeyPath: keyPath, location: token.location))
        case (nil, let chain?):
            self.error("certKey needs privateKey too", at: token.location(atOffset: chain.offset))
            return nil
        case (nil, nil):
            break
        }
        return .ssl(port: port, interface: interface, certificates: certificates)
    }

    /// `certificate cert=FILE [key=FILE]`: without `key`, the cert file holds the key too.
    private mutating func certificate(_ directive: ConfigDirective, _ arguments: [ConfigToken]) -> ProxyConfiguration.Certificate? {
        let options = self.options(arguments, allowed: ["cert", "key"], for: "certificate")
        guard let cert = options["cert"] else {
            if arguments.allSatisfy({ $0.text.contains("=") }) {
                self.error("'certificate' needs cert=FILE", at: directive.location)
            }
            return nil
        }
        let chainPath = self.filePath(cert.value, at: cert.valueLocation)
        let keyPath = options["key"].map { self.filePath($0.value, at: $0.valueLocation) } ?? chainPath
        guard let chainPath, let keyPath else { return nil }
        return .init(certificateChainPath: chainPath, privateKeyPath: keyPath, location: directive.location)
    }

    /// A Unix socket path, resolved like any file, within the kernel's length limit.
    mutating func socketPath(_ text: String, at location: SourceLocation) -> String? {
        guard let path = self.filePath(text, at: location) else { return nil }
        guard path.utf8.count <= Self.maximumSocketPathLength else {
            self.error(
                "unix socket path is too long: \(path.utf8.count) bytes, the limit is \(Self.maximumSocketPathLength)",
                at: location)
            return nil
        }
        return path
    }
}

extension ProxyConfiguration.Listener.Endpoint {
    fileprivate var isSSL: Bool {
        if case .ssl = self { return true }
        return false
    }

    fileprivate var isTCP: Bool {
        if case .tcp = self { return true }
        return false
    }
}
