import HTTPTypes
import NIOCore
import TernClient

/// Prints requests and responses: heads as text, bodies raw (byte-exact) or, when formatting,
/// JSON indented and colored and text with a final newline.
struct ResponsePrinter: Sendable {
    let settings: OutputSettings
    let out: Terminal

    /// Bodies larger than this are streamed as they are, never held for formatting.
    static let formatLimit = 16 << 20
    static let hostName = HTTPField.Name("Host")!

    var palette: Palette { self.settings.palette }

    // MARK: Request

    func printRequest(_ request: Request, body: [UInt8]?, displayURL: String, userAgent: String?) throws {
        let parts = URLText.components(displayURL)
        if self.settings.requestHead {
            let p = self.palette
            var text = p.paint(p.method, request.method.rawValue) + " " + (parts?.pathAndQuery ?? "/") + " "
                + p.paint(p.version, "HTTP/1.1") + "\n"
            var fields = request.headerFields
            if fields[Self.hostName] == nil, let parts { fields[Self.hostName] = URLText.hostHeader(parts.authority, scheme: parts.scheme) }
            if fields[.userAgent] == nil, let userAgent { fields[.userAgent] = userAgent }
            if let length = request.body?.length, fields[.contentLength] == nil { fields[.contentLength] = String(length) }
            text += self.fieldLines(fields)
            text += "\n"
            self.out.write(text)
        }
        if self.settings.requestBody, let body, !body.isEmpty {
            let contentType = request.headerFields[.contentType] ?? ""
            if self.settings.format || self.settings.colors {
                try self.writeFormatted(body, contentType: contentType)
            } else {
                try self.out.write(body)
                self.out.write("\n")
            }
        }
    }

    // MARK: Response

    func printHead(_ response: Response) throws {
        let p = self.palette
        let code = response.status.code
        var text = p.paint(p.version, response.version) + " "
            + p.paint(p.status(code), "\(code) \(response.status.reasonPhrase)") + "\n"
        text += self.fieldLines(response.headerFields)
        text += "\n"
        self.out.write(text)
    }

    /// Prints the head and/or body as configured, reading the body from the network.
    func printResponse(_ response: Response, separated: Bool) async throws {
        if separated && (self.settings.responseHead || self.settings.responseBody) { self.out.write("\n") }
        if self.settings.responseHead { try self.printHead(response) }
        guard self.settings.responseBody else { return }
        let contentType = response.headerFields[.contentType] ?? ""
        if !self.settings.format && !self.settings.colors {
            // Byte-exact pass-through.
            for try await chunk in response.body { try self.out.write(chunk) }
            return
        }
        var iterator = response.body.makeAsyncIterator()
        guard var held = try await iterator.next() else { return }
        let first = Array(held.readableBytesView.prefix(1024))
        if self.out.isTTY && BodyKind.isBinary(first) {
            // Stop reading: dropping the body cancels the rest of the transfer.
            try self.writeFormatted(first, contentType: contentType)
            return
        }
        if !BodyKind.looksLikeJSON(first, contentType: contentType) {
            // Text: print it as it arrives (a stream stays live), then end the line.
            var last = held.readableBytesView.last
            try self.out.write(held)
            while let chunk = try await iterator.next() {
                if let byte = chunk.readableBytesView.last { last = byte }
                try self.out.write(chunk)
            }
            if last != 0x0A { self.out.write("\n") }
            return
        }
        while var chunk = try await iterator.next() {
            held.writeBuffer(&chunk)
            if held.readableBytes > Self.formatLimit {
                // Too large to format: print it as it comes.
                try self.out.write(held)
                while let chunk = try await iterator.next() { try self.out.write(chunk) }
                return
            }
        }
        try self.writeFormatted(Array(held.readableBytesView), contentType: contentType)
    }

    /// Prints a response whose body was already read (several URLs).
    func printResponse(_ response: Response, collectedBody: ByteBuffer, separated: Bool) async throws {
        if separated && (self.settings.responseHead || self.settings.responseBody) { self.out.write("\n") }
        if self.settings.responseHead { try self.printHead(response) }
        guard self.settings.responseBody else { return }
        if !self.settings.format && !self.settings.colors {
            try self.out.write(collectedBody)
            return
        }
        try self.writeFormatted(Array(collectedBody.readableBytesView), contentType: response.headerFields[.contentType] ?? "")
    }

    /// Formats (JSON), guards the terminal from binary data, and ends text with a newline.
    func writeFormatted(_ bytes: [UInt8], contentType: String) throws {
        guard !bytes.isEmpty else { return }
        if self.out.isTTY && BodyKind.isBinary(bytes) {
            self.out.write("+-----------------------------------------+\n| NOTE: binary data not shown in terminal |\n+-----------------------------------------+\n")
            return
        }
        if BodyKind.looksLikeJSON(bytes, contentType: contentType),
           let formatted = JSONFormatter(indent: self.settings.format ? 4 : nil, palette: self.palette).format(bytes) {
            try self.out.write(formatted)
            self.out.write("\n")
            return
        }
        try self.out.write(bytes)
        if bytes.last != 0x0A { self.out.write("\n") }
    }

    func fieldLines(_ fields: HTTPFields) -> String {
        var text = ""
        for field in fields {
            text += self.palette.paint(self.palette.headerName, field.name.rawName) + ": " + field.value + "\n"
        }
        return text
    }
}

/// Sniffing what a body is.
enum BodyKind {
    static func isJSONType(_ contentType: String) -> Bool {
        let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return type == "application/json" || type.hasSuffix("+json") || type == "text/json" || type == "application/x-json"
    }

    /// A JSON media type, or a text-ish/unknown type whose body starts like a JSON document.
    static func looksLikeJSON(_ bytes: [UInt8], contentType: String) -> Bool {
        if Self.isJSONType(contentType) { return true }
        let type = contentType.lowercased()
        guard type.isEmpty || type.hasPrefix("text/") || type.contains("javascript") else { return false }
        let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        return first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
    }

    /// NUL bytes in the first KiB: binary (httpie's rule).
    static func isBinary(_ bytes: [UInt8]) -> Bool {
        bytes.prefix(1024).contains(0)
    }
}
