import NIOCore
import TernRedis

/// libFuzzer entry: any bytes as a RESP3 reply stream, fed in two pieces. The decoder must not
/// trap, and must not keep returning values without consuming bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRESP(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    let limits = RESPDecoder.Limits(maxDepth: 16, maxBulkLength: 4096, maxAggregateCount: 256, maxLineLength: 512)
    var decoder = RESPDecoder(limits: limits)
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    var buffer = ByteBuffer()
    for piece in [bytes[..<split], bytes[split...]] {
        buffer.writeBytes(piece)
        while true {
            let before = buffer.readableBytes
            do {
                guard (try decoder.decode(&buffer)) != nil else { break }
            } catch {
                return 0
            }
            precondition(buffer.readableBytes < before, "a value decoded from no bytes")
        }
    }
    return 0
}

// SwiftPM links an executable with its entry point renamed to `FuzzRESP_main` (and `main` defined
// as that), so libFuzzer's own `main` is never pulled in: start its driver from here.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt
) -> CInt

@_cdecl("FuzzRESP_main")
public func fuzzRESPMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv) { start, count in fuzzRESP(start, count) }
}
