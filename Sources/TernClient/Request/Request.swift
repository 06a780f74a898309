import Foundation
import HTTPTypes
import NIOCore

/// A request for the `async` API: method, URL, header fields and an optional body.
public struct Request: Sendable {
    public var method: HTTPRequest.Method
    /// `http://`, `https://`, `http+unix://%2Fpath%2Fto.sock/path` or `https+unix://…`.
    public var url: String
    public var headerFields: HTTPFields
    public var body: Body?

    public init(method: HTTPRequest.Method = .get, url: String, headerFields: HTTPFields = [:], body: Body? = nil) {
        self.method = method
        self.url = url
        self.headerFields = headerFields
        self.body = body
    }

    /// A request body: bytes known up front (replayable, so redirects and retries may resend them)
    /// or a stream written as it is produced, with backpressure.
    public struct Body: Sendable {
        enum Storage: Sendable {
            case bytes(ByteBuffer)
            case stream(length: Int?, produce: @Sendable (BodyWriter) async throws -> Void)
        }

        let storage: Storage

        public static func bytes(_ buffer: ByteBuffer) -> Body { Body(storage: .bytes(buffer)) }

        public static func bytes(_ bytes: some Sequence<UInt8>) -> Body { Body(storage: .bytes(ByteBuffer(bytes: bytes))) }

        public static func string(_ string: String) -> Body { Body(storage: .bytes(ByteBuffer(string: string))) }

        /// A body produced by an `AsyncSequence`; `length` nil sends it chunked. It is read only as
        /// fast as the connection takes it.
        public static func stream<S: AsyncSequence & Sendable>(_ sequence: S, length: Int?) -> Body
        where S.Element == ByteBuffer {
            Body(
                storage: .stream(length: length) { writer in
                    for try await chunk in sequence { try await writer.write(chunk) }
                }
            )
        }

        /// The length in bytes, when known.
        public var length: Int? {
            switch self.storage {
            case .bytes(let buffer): return buffer.readableBytes
            case .stream(let length, _): return length
            }
        }

        var isReplayable: Bool {
            if case .bytes = self.storage { return true }
            return false
        }
    }

    /// Writes a streamed body; each `write` returns once the connection can take more.
    struct BodyWriter: Sendable {
        let write: @Sendable (ByteBuffer) async throws -> Void
    }
}

// MARK: Conveniences

extension Request {
    /// Appends query items to the URL, percent-encoded (RFC 3986 §3.4).
    public mutating func setQueryItems(_ items: [(String, String)]) {
        guard !items.isEmpty else { return }
        let encoded = items.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        let fragmentStart = self.url.firstIndex(of: "#") ?? self.url.endIndex
        let base = self.url[..<fragmentStart]
        let separator = base.contains("?") ? (base.hasSuffix("?") || base.hasSuffix("&") ? "" : "&") : "?"
        self.url = base + separator + encoded + self.url[fragmentStart...]
    }

    public mutating func setBasicAuth(user: String, password: String) {
        let token = Data("\(user):\(password)".utf8).base64EncodedString()
        self.headerFields[.authorization] = "Basic \(token)"
    }

    public mutating func setBearerToken(_ token: String) {
        self.headerFields[.authorization] = "Bearer \(token)"
    }

    /// A request whose body is `value` encoded as JSON.
    public static func json<T: Encodable>(
        method: HTTPRequest.Method = .post,
        url: String,
        _ value: T,
        encoder: JSONEncoder = JSONEncoder()
    ) throws -> Request {
        var request = Request(method: method, url: url, body: .bytes(try encoder.encode(value)))
        request.headerFields[.contentType] = "application/json"
        request.headerFields[.accept] = "application/json"
        return request
    }

    /// A request with an `application/x-www-form-urlencoded` body.
    public static func form(method: HTTPRequest.Method = .post, url: String, _ fields: [(String, String)]) -> Request {
        let body = fields.map { "\(Self.percentEncode($0.0, form: true))=\(Self.percentEncode($0.1, form: true))" }
            .joined(separator: "&")
        var request = Request(method: method, url: url, body: .string(body))
        request.headerFields[.contentType] = "application/x-www-form-urlencoded"
        return request
    }

    static func percentEncode(_ text: String, form: Bool = false) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
        return form ? encoded.replacingOccurrences(of: "%20", with: "+") : encoded
    }
}
