import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1

extension Agent {
    /// Sends a request and returns once the response head has arrived; the body streams from the
    /// returned `Response`. Follows redirects per `configuration.redirects`.
    ///
    /// - Parameter timeout: the whole-request deadline, covering connecting, the head and the
    ///   body; nil uses `configuration.requestTimeout`.
    /// - Throws: `TernClientError`, naming the phase and the address.
    public func execute(_ request: Request, timeout: TimeAmount? = nil) async throws -> Response {
        let deadline = (timeout ?? self.configuration.requestTimeout).map { NIODeadline.now() + $0 }
        var request = request
        var target = try Target(parsing: request.url)
        // Built on the first redirect only: most requests never need it.
        var visited: Set<String> = []
        var followed = 0
        while true {
            let (head, body) = try await self.executeOnce(request, target: target, deadline: deadline)
            guard case .follow(let maxRedirects) = self.configuration.redirects,
                case .follow(let next) = try RedirectRule.decide(
                    status: Int(head.status.code),
                    location: head.headers.first(name: "location"),
                    method: request.method,
                    from: target,
                    bodyIsReplayable: request.body?.isReplayable ?? true
                )
            else {
                return Self.makeResponse(head, body: body, url: target.url)
            }
            if visited.isEmpty { visited.insert("\(request.method.rawValue) \(target.url)") }
            let seen = "\(next.method.rawValue) \(next.target.url)"
            if followed >= maxRedirects {
                throw TernClientError(
                    code: .tooManyRedirects, phase: .redirect, address: target.origin.address,
                    detail: "more than \(maxRedirects) redirects, the last to \(next.target.url)"
                )
            }
            if visited.contains(seen) {
                throw TernClientError(
                    code: .redirectLoop, phase: .redirect, address: target.origin.address,
                    detail: "\(next.target.url) redirects back to itself"
                )
            }
            visited.insert(seen)
            followed += 1
            // Read the (small) redirect body so its connection goes back to the pool; a large one
            // is dropped, which closes that connection instead.
            _ = try? await body.collect(upTo: 64 * 1024)

            request.method = next.method
            request.url = next.target.url
            if next.dropsBody {
                request.body = nil
                for name in RedirectRule.bodyFields { request.headerFields[name] = nil }
            }
            if next.crossesOrigin {
                for name in RedirectRule.credentialFields { request.headerFields[name] = nil }
            }
            target = next.target
        }
    }

    public func get(_ url: String, headerFields: HTTPFields = [:], timeout: TimeAmount? = nil) async throws -> Response {
        try await self.execute(Request(method: .get, url: url, headerFields: headerFields), timeout: timeout)
    }

    public func post(_ url: String, body: Request.Body, headerFields: HTTPFields = [:], timeout: TimeAmount? = nil)
        async throws -> Response
    {
        try await self.execute(Request(method: .post, url: url, headerFields: headerFields, body: body), timeout: timeout)
    }

    public func put(_ url: String, body: Request.Body, headerFields: HTTPFields = [:], timeout: TimeAmount? = nil)
        async throws -> Response
    {
        try await self.execute(Request(method: .put, url: url, headerFields: headerFields, body: body), timeout: timeout)
    }

    public func delete(_ url: String, headerFields: HTTPFields = [:], timeout: TimeAmount? = nil) async throws -> Response {
        try await self.execute(Request(method: .delete, url: url, headerFields: headerFields), timeout: timeout)
    }

    // MARK: One exchange

    private func executeOnce(_ request: Request, target: Target, deadline: NIODeadline?) async throws
        -> (HTTPResponseHead, Response.Body)
    {
        let head = Self.makeHead(request, target: target)
        let loop = self.pickEventLoop()
        let headPromise = loop.makePromise(of: (HTTPResponseHead, Response.Body).self)
        let responseHead = headPromise.futureResult
        let bridge = ResponseBridge(eventLoop: loop, headPromise: headPromise)
        let body: RequestBody
        let produce: (@Sendable (Request.BodyWriter) async throws -> Void)?
        switch request.body?.storage {
        case .none:
            (body, produce) = (.none, nil)
        case .bytes(let buffer):
            (body, produce) = (.bytes(buffer), nil)
        case .stream(let length, let producer):
            (body, produce) = (.stream(length: length), producer)
        }
        return try await withTaskCancellationHandler {
            loop.execute {
                let execution = self.execute(head, to: target.origin, body: body, on: loop, deadline: deadline, delegate: bridge)
                if let produce, !execution.isFinished {
                    bridge.bodyPump = Self.pumpBody(produce, into: NIOLoopBound(execution, eventLoop: loop))
                }
                bridge.started(execution)
            }
            return try await responseHead.get()
        } onCancel: {
            bridge.cancel(TernClientError(code: .cancelled, phase: .request, address: target.origin.address))
        }
    }

    /// Feeds a streamed request body to the execution, one part at a time, waiting whenever the
    /// connection is not writable.
    private static func pumpBody(
        _ produce: @escaping @Sendable (Request.BodyWriter) async throws -> Void,
        into execution: NIOLoopBound<RequestExecution>
    ) -> Task<Void, Never> {
        let loop = execution.eventLoop
        return Task {
            do {
                try await produce(
                    Request.BodyWriter { chunk in
                        try await loop.flatSubmit { execution.value.writeBodyPart(chunk) }.get()
                    }
                )
                loop.execute { execution.value.finishBody() }
            } catch {
                let failure =
                    error as? TernClientError
                    ?? TernClientError(code: .writeFailed, phase: .write, detail: "request body: \(error)")
                loop.execute { execution.value.cancel(with: failure) }
            }
        }
    }

    static func makeHead(_ request: Request, target: Target) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(request.headerFields.count + 3)
        for field in request.headerFields {
            headers.add(name: field.name.rawName, value: field.value)
        }
        if let userInfo = target.userInfo, !headers.contains(name: "authorization") {
            headers.add(name: "Authorization", value: "Basic " + Data(userInfo.utf8).base64EncodedString())
        }
        return HTTPRequestHead(
            version: .http1_1,
            method: HTTPMethod(rawValue: request.method.rawValue),
            uri: target.requestURI,
            headers: headers
        )
    }

    static func makeResponse(_ head: HTTPResponseHead, body: Response.Body, url: String) -> Response {
        var fields = HTTPFields()
        fields.reserveCapacity(head.headers.count)
        for (name, value) in head.headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return Response(
            status: HTTPResponse.Status(code: Int(head.status.code), reasonPhrase: head.status.reasonPhrase),
            version: "HTTP/\(head.version.major).\(head.version.minor)",
            headerFields: fields,
            url: url,
            body: body
        )
    }
}
