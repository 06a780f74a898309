import NIOCore
import NIOHTTP1

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

    static func decodePrefix(_ buffer: inout ByteBuffer) throws(CacheStoreError) -> Prefix {
        let view = buffer.readableBytesView
        guard let newline = view.prefix(200).firstIndex(of: UInt8(ascii: "\n")) else {
            throw self.corrupt("no header line")
        }
        let line = String(decoding: view[view.startIndex..<newline], as: UTF8.self)
        buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0] == Self.version else {
            throw self.corrupt("header line is not `\(version) generation chunks length expiry`")
        }
        guard !fields[1].isEmpty, fields[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
            let chunkCount = Int(fields[2]), let bodyLength = Int(fields[3]), let expires = Int64(fields[4]),
            chunkCount >= 0, chunkCount <= maxChunkCount, bodyLength >= 0, (chunkCount == 0) == (bodyLength == 0)
        else { throw self.corrupt("bad header line values") }
        return Prefix(generation: String(fields[1]), chunkCount: chunkCount, bodyLength: bodyLength, expiresAtMs: expires)
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
