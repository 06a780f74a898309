import Foundation
import Mustache
import NIOCore

/// The pages the proxy answers with itself (404, 413, 502, 503, 504, …), rendered from Mustache
/// templates once, when a configuration is loaded: no templating on the request path. The shipped
/// template is `Templates/error.mustache`; `error-page CODE FILE` in proxy.conf replaces it per status.
struct ErrorPages: Sendable {
    private let pages: [Int: ByteBuffer]
    private let fallback: ByteBuffer

    static let statuses = [400, 403, 404, 405, 408, 413, 414, 429, 431, 500, 501, 502, 503, 504]

    static let explanations: [Int: String] = [
        400: "The request could not be understood.",
        403: "This request is not allowed from here.",
        404: "No route matches this request.",
        405: "This method is not allowed here.",
        408: "The request took too long to arrive.",
        413: "The request body is larger than this route accepts.",
        414: "The request URI is too long.",
        429: "Too many requests from this address: try again later.",
        431: "The request header fields are too large.",
        500: "The proxy failed to handle this request.",
        501: "This request is not supported.",
        502: "The upstream server could not be reached or sent an invalid response.",
        503: "No upstream server is available to handle this request.",
        504: "The upstream server did not answer in time.",
    ]

    /// - Throws: `ConfigError`-style text naming the template file that failed.
    init(overrides: [Int: String]) throws {
        let shipped = try Self.loadShipped()
        var pages: [Int: ByteBuffer] = [:]
        var templates: [String: MustacheTemplate] = [:]
        for status in Set(Self.statuses).union(overrides.keys) {
            var template = shipped
            if let path = overrides[status] {
                if let cached = templates[path] {
                    template = cached
                } else {
                    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                        throw PageError(message: "cannot read error page template \(path)")
                    }
                    do {
                        template = try MustacheTemplate(string: text)
                    } catch {
                        throw PageError(message: "error page template \(path): \(error)")
                    }
                    templates[path] = template
                }
            }
            pages[status] = ByteBuffer(string: Self.render(template, status: status))
        }
        self.pages = pages
        self.fallback = ByteBuffer(string: Self.render(shipped, status: 500))
    }

    func page(for status: Int) -> ByteBuffer {
        self.pages[status] ?? self.fallback
    }

    private static func render(_ template: MustacheTemplate, status: Int) -> String {
        template.render([
            "status": "\(status)",
            "reason": HTTPReason.phrase(status),
            "explanation": Self.explanations[status] ?? "",
        ])
    }

    /// `Pages/Templates/error.mustache`, compiled into the binary (`PackageResources`).
    private static func loadShipped() throws -> MustacheTemplate {
        try MustacheTemplate(string: String(decoding: PackageResources.error_mustache, as: UTF8.self))
    }

    struct PageError: Error, CustomStringConvertible {
        var message: String
        var description: String { self.message }
    }
}

enum HTTPReason {
    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Status \(status)"
        }
    }
}
