/// Case-insensitive comparison of field names and tokens with a lowercase ASCII word, on the
/// string's bytes in place: no allocation, and no generic walk over two `UTF8View`s (which, zipped,
/// cost the forwarding path about half a microsecond a request in the hop-by-hop scan alone).
package enum ASCII {
    @inlinable
    package static func lower(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

    /// `bytes` equal `lowercase` ignoring ASCII case (`lowercase` must be lowercase). Eight bytes
    /// at a time from eight on (the last word overlapping the one before it), four at a time from
    /// four: a field name is compared in two or three steps, not one a byte.
    @inlinable
    package static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = bytes.count
        guard count == lowercase.count else { return false }
        guard count >= 4, let text = bytes.baseAddress, let word = lowercase.baseAddress else {
            for index in 0..<count where Self.lower(bytes[index]) != lowercase[index] { return false }
            return true
        }
        let (a, b) = (UnsafeRawPointer(text), UnsafeRawPointer(word))
        if count < 8 {
            return Self.lowerBytes(a.loadUnaligned(as: UInt32.self)) == b.loadUnaligned(as: UInt32.self)
                && Self.lowerBytes(a.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
                    == b.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
        }
        var offset = 0
        while offset + 8 < count {
            if Self.lowerBytes(a.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
                return false
            }
            offset += 8
        }
        return Self.lowerBytes(a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)) == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
    }

    /// Each byte of `word` from `A` to `Z` made lowercase, the others left as they are (exact for
    /// every byte value: the tests on each byte's low seven bits cannot carry into the next byte).
    @inlinable
    package static func lowerBytes<Word: FixedWidthInteger & UnsignedInteger>(_ word: Word) -> Word {
        let ones = Word.max / 0xFF  // 0x0101…
        let highs = ones &* 0x80
        let low7 = word & ~highs
        let atLeastA = low7 &+ ones &* (0x80 - 0x41)  // high bit set where the byte ≥ 0x41
        let aboveZ = low7 &+ ones &* (0x80 - 0x5B)  // high bit set where the byte ≥ 0x5B
        let upper = atLeastA & ~aboveZ & ~word & highs
        return word | upper >> 2
    }

    /// The high bit of each byte of the result set where `word`'s byte is a letter, a digit or `-`,
    /// the bytes nearly every field name is made of (all of them token bytes, RFC 9110 §5.6.2); the
    /// other bits clear. Exact for every byte value, as `lowerBytes`: each test adds to a byte's low
    /// seven bits a constant that cannot carry into the next byte.
    @inlinable
    package static func nameBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs = ones &* 0x80
        let low7 = word & ~highs
        let folded = low7 | ones &* 0x20  // `A`-`Z` onto `a`-`z`; nothing else lands there
        let letter = (folded &+ ones &* (0x80 - 0x61)) & ~(folded &+ ones &* (0x80 - 0x7B))
        let digit = (low7 &+ ones &* (0x80 - 0x30)) & ~(low7 &+ ones &* (0x80 - 0x3A))
        let dash = ~((low7 ^ ones &* 0x2D) &+ ones &* 0x7F)  // high bit clear unless the byte is `-`
        return (letter | digit | dash) & ~word & highs
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
