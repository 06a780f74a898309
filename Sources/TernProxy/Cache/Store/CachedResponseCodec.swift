import NIOCore
import NIOHTTP1
import TernClient

/// How a variant's metadata is stored in Redis (one field of the entry's hash). A text line that
/// the Lua library reads too, then binary fields:
///
///     T1 <generation> <chunkCount> <bodyLength> <expiresAtMs>\n
///     u16 status, u8 flags (1: pass marker), i64 requestTime, i64 responseTime,
///     str variantID, u32 header count, (str name, str value)…, u32 vary count, (str name, u8 has, str value)…
///
/// where `str` is a u32 length and UTF-8 bytes. The line's generation is the decoded response's
/// `generation` (`encode` takes it from the prefix, not the response). `T1` is the format version. The decoder checks
/// every length against what is left and throws `CacheStoreError.corrupt` on anything malformed.
enum CachedResponseCodec {
    static let version = "T1"
    /// Bounds a decoder accepts (well above anything the proxy stores).
    static let maxFields = 10_000
    static let maxChunkCount = 1 << 26

    /// What the line in front of the binary part says.
    struct Prefix: Equatable {
        var generation: String
        var chunkCount: Int
        var bodyLength: Int
        /// Wall-clock milliseconds since the Unix epoch after which the variant is gone.
        var expiresAtMs: Int64
    }

    static func encode(_ response: CachedResponse, prefix: Prefix) -> ByteBuffer {
        var buffer = ByteBuffer(string: "\(version) \(prefix.generation) \(prefix.chunkCount) \(prefix.bodyLength) \(prefix.expiresAtMs)\n")
        self.encodeFields(response, into: &buffer)
        return buffer
    }

    /// The binary part alone (for `tern_cache_update`, which keeps the stored line's body fields).
    static func encodeFields(_ response: CachedResponse) -> ByteBuffer {
        var buffer = ByteBuffer()
        self.encodeFields(response, into: &buffer)
        return buffer
    }

    private static func encodeFields(_ response: CachedResponse, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(clamping: response.status))
        buffer.writeInteger(UInt8(response.isPassMarker ? 1 : 0))
        buffer.writeInteger(response.requestTime)
        buffer.writeInteger(response.responseTime)
        self.write(response.variantID, into: &buffer)
        buffer.writeInteger(UInt32(response.headers.count))
        for (name, value) in response.headers {
            self.write(name, into: &buffer)
            self.write(value, into: &buffer)
        }
        buffer.writeInteger(UInt32(response.varyValues.count))
        for vary in response.varyValues {
            self.write(vary.name, into: &buffer)
            buffer.writeInteger(UInt8(vary.value == nil ? 0 : 1))
            self.write(vary.value ?? "", into: &buffer)
        }
    }

    private static func write(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(string.utf8.count))
        buffer.writeString(string)
    }

    static func decode(_ value: ByteBuffer) throws(CacheStoreError) -> (CachedResponse, Prefix) {
        var buffer = value
        let prefix = try self.decodePrefix(&buffer)
        guard let status = buffer.readInteger(as: UInt16.self),
            let flags = buffer.readInteger(as: UInt8.self),
            let requestTime = buffer.readInteger(as: Int64.self),
            let responseTime = buffer.readInteger(as: Int64.self)
        else { throw self.corrupt("truncated fields") }
        guard flags <= 1 else { throw self.corrupt("unknown flags \(flags)") }
        let variantID = try self.readString(&buffer)
        let headerCount = try self.readCount(&buffer)
        var headers = HTTPHeaders()
        headers.reserveCapacity(headerCount)
        for _ in 0..<headerCount {
            let name = try self.readString(&buffer)
            let value = try self.readString(&buffer)
            // HTTPHeaders traps on a name that is not ASCII.
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) else {
                throw self.corrupt("header name is not a token")
            }
            headers.add(name: name, value: value)
        }
        let varyCount = try self.readCount(&buffer)
        var varyValues: [VaryValue] = []
        varyValues.reserveCapacity(varyCount)
        for _ in 0..<varyCount {
            let name = try self.readString(&buffer)
            guard let has = buffer.readInteger(as: UInt8.self), has <= 1 else { throw self.corrupt("bad vary marker") }
            let value = try self.readString(&buffer)
            varyValues.append(VaryValue(name: name, value: has == 1 ? value : nil))
        }
        guard buffer.readableBytes == 0 else { throw self.corrupt("\(buffer.readableBytes) bytes after the last field") }
        let response = CachedResponse(
            variantID: variantID, status: UInt(status), headers: headers, varyValues: varyValues,
            requestTime: requestTime, responseTime: responseTime, bodyLength: prefix.bodyLength,
            chunkCount: prefix.chunkCount, isPassMarker: flags == 1, generation: prefix.generation
        )
        return (response, prefix)
    }

    /// Reads `T1 <generation> <chunks> <length> <expires>\n` byte by byte: it runs on every Redis
    /// lookup, so no `String` of the line, no split and no `Character` properties.
    static func decodePrefix(_ buffer: inout ByteBuffer) throws(CacheStoreError) -> Prefix {
        let view = buffer.readableBytesView
        guard let newline = view.prefix(200).firstIndex(of: UInt8(ascii: "\n")) else {
            throw self.corrupt("no header line")
        }
        let badLine = self.corrupt("header line is not `\(version) generation chunks length expiry`")
        let badValues = self.corrupt("bad header line values")
        var index = view.startIndex
        guard newline - index > 3, view[index] == UInt8(ascii: "T"), view[index + 1] == UInt8(ascii: "1"),
            view[index + 2] == UInt8(ascii: " ")
        else { throw badLine }
        index += 3
        let generationStart = index
        while index < newline, view[index] != UInt8(ascii: " ") {
            let byte = view[index]
            guard byte &- UInt8(ascii: "0") < 10 || (byte | 0x20) &- UInt8(ascii: "a") < 26 else { throw badValues }
            index += 1
        }
        guard index > generationStart, index < newline else { throw index == newline ? badLine : badValues }
        let generation = String(decoding: view[generationStart..<index], as: UTF8.self)
        index += 1
        /// A decimal number ending at a space (or, for the last, the newline); `negative` allows a '-'.
        func number(last: Bool, negative: Bool = false) throws(CacheStoreError) -> Int64 {
            var sign: Int64 = 1
            if negative, index < newline, view[index] == UInt8(ascii: "-") {
                sign = -1
                index += 1
            }
            let start = index
            var value: Int64 = 0
            while index < newline, view[index] != UInt8(ascii: " ") {
                let digit = view[index] &- UInt8(ascii: "0")
                guard digit < 10, index - start < 18 else { throw badValues }
                value = value * 10 + Int64(digit)
                index += 1
            }
            guard index > start else { throw last || index < newline ? badValues : badLine }
            if last {
                guard index == newline else { throw badLine }
            } else {
                guard index < newline else { throw badLine }
                index += 1
            }
            return sign * value
        }
        let chunkCount = Int(try number(last: false))
        let bodyLength = Int(try number(last: false))
        let expires = try number(last: true, negative: true)
        guard chunkCount <= maxChunkCount, (chunkCount == 0) == (bodyLength == 0) else { throw badValues }
        buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
        return Prefix(generation: generation, chunkCount: chunkCount, bodyLength: bodyLength, expiresAtMs: expires)
    }

    private static func readCount(_ buffer: inout ByteBuffer) throws(CacheStoreError) -> Int {
        guard let count = buffer.readInteger(as: UInt32.self) else { throw self.corrupt("truncated count") }
        // Each item takes at least 4 bytes, so a count beyond what is left is a lie.
        guard count <= maxFields, Int(count) * 4 <= buffer.readableBytes else { throw self.corrupt("count \(count) too large") }
        return Int(count)
    }

    private static func readString(_ buffer: inout ByteBuffer) throws(CacheStoreError) -> String {
        guard let length = buffer.readInteger(as: UInt32.self) else { throw self.corrupt("truncated string length") }
        guard Int(length) <= buffer.readableBytes, let string = buffer.readString(length: Int(length)) else {
            throw self.corrupt("string of \(length) bytes past the end")
        }
        return string
    }

    private static func corrupt(_ detail: String) -> CacheStoreError {
        CacheStoreError(code: .corrupt, detail: "stored metadata: \(detail)")
    }
}
