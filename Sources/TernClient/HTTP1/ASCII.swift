/// Case-insensitive comparison of field names and tokens with a lowercase ASCII word, on the
/// string's bytes in place: no allocation, and no generic walk over two `UTF8View`s (which, zipped,
/// cost the forwarding path about half a microsecond a request in the hop-by-hop scan alone).
package enum ASCII {
    @inlinable
    package static func lower(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

    /// `bytes` equal `lowercase` ignoring ASCII case (`lowercase` must be lowercase).
    @inlinable
    package static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        for index in 0..<bytes.count where Self.lower(bytes[index]) != lowercase[index] { return false }
        return true
    }

    /// `bytes` equal `lowercase` ignoring ASCII case (`lowercase` must be lowercase).
    @inlinable
    package static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: StaticString) -> Bool {
        Self.equals(bytes, UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount))
    }

    /// `text` equals `lowercase` ignoring ASCII case (`lowercase` must be lowercase).
    @inlinable
    package static func equals<Text: StringProtocol>(_ text: Text, _ lowercase: StaticString) -> Bool {
        Self.equals(text, bytes: UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount))
    }

    /// `text` equals `lowercase` ignoring ASCII case (`lowercase` must be lowercase).
    @inlinable
    package static func equals<Text: StringProtocol>(_ text: Text, _ lowercase: String) -> Bool {
        var lowercase = lowercase
        return lowercase.withUTF8 { word in Self.equals(text, bytes: word) }
    }

    @usableFromInline
    package static func equals<Text: StringProtocol>(_ text: Text, bytes word: UnsafeBufferPointer<UInt8>) -> Bool {
        if let result = text.utf8.withContiguousStorageIfAvailable({ Self.equals($0, word) }) { return result }
        // A string not stored as UTF-8 (bridged): byte by byte.
        guard text.utf8.count == word.count else { return false }
        var index = 0
        for byte in text.utf8 {
            if Self.lower(byte) != word[index] { return false }
            index += 1
        }
        return true
    }

    /// Calls `body` with the bytes of `text`, in place when it is stored as UTF-8.
    @inlinable
    package static func withBytes<Result>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        var text = text
        return text.withUTF8(body)
    }
}
