/// Redis Cluster's key → slot function: CRC16 (XMODEM) of the key, or of its hash tag (the text
/// between the first `{` and the next `}`, when not empty), modulo 16384. Keys that share a tag
/// share a slot, which is how multi-key commands stay on one node.
public enum HashSlot {
    public static let count = 16384

    public static func slot(_ key: String) -> UInt16 {
        var key = key
        return key.withUTF8 { Self.slot(UnsafeRawBufferPointer($0)) }
    }

    public static func slot(_ key: UnsafeRawBufferPointer) -> UInt16 {
        var bytes = key[...]
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
            let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            bytes = bytes[(open + 1)..<close]
        }
        return crc16(bytes) & 0x3FFF
    }

    static func crc16(_ bytes: Slice<UnsafeRawBufferPointer>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index -> UInt16 in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
