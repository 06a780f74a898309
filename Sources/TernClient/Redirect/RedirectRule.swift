import HTTPTypes

/// What a redirect asks for, per RFC 9110 §15.4, as a pure function of the response and the
/// request that got it.
enum RedirectRule {
    struct Next: Equatable {
        var method: HTTPRequest.Method
        var target: Target
        /// The body is dropped (the method became GET).
        var dropsBody: Bool
        /// The origin changed: credentials must not follow (RFC 9110 §15.4, curl and browsers alike).
        var crossesOrigin: Bool
    }

    enum Decision: Equatable {
        /// Not a redirect the agent follows: hand the response to the caller.
        case deliver
        case follow(Next)
    }

    static func decide(
        status: Int,
        location: String?,
        method: HTTPRequest.Method,
        from current: Target,
        bodyIsReplayable: Bool
    ) throws(TernClientError) -> Decision {
        guard [301, 302, 303, 307, 308].contains(status), let location, !location.isEmpty else { return .deliver }
        let target: Target
        do {
            target = try current.resolving(location)
        } catch {
            throw TernClientError(code: .invalidURL, phase: .redirect, detail: "Location '\(location.prefix(200))': \(error)")
        }
        var newMethod = method
        switch status {
        case 301, 302:
            // Historically user agents turn POST into GET here, and RFC 9110 §15.4.2 allows it.
            if method == .post { newMethod = .get }
        case 303:
            if method != .head { newMethod = .get }
        default:
            break
        }
        let dropsBody = newMethod != method
        if !dropsBody && !bodyIsReplayable {
            // A 307/308 asks for the same body again, which a consumed stream cannot give.
            return .deliver
        }
        return .follow(
            Next(method: newMethod, target: target, dropsBody: dropsBody, crossesOrigin: target.origin != current.origin)
        )
    }

    /// Fields that must not travel to another origin.
    static let credentialFields: [HTTPField.Name] = [.authorization, .cookie, .proxyAuthorization]

    /// Fields that describe a body the redirected request no longer has.
    static let bodyFields: [HTTPField.Name] = [.contentType, .contentLength, .contentEncoding, .transferEncoding]
}
