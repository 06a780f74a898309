import TernProxy

/// libFuzzer entry: any bytes as proxy.conf. The reader must not trap; every error must point
/// inside the text (line and column within it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)
    do {
        _ = try ProxyConfiguration.parse(text, file: "fuzz.conf", baseDirectory: "/b")
    } catch {
        // By bytes: "\r\n" is one Character, and would hide a line from a split on "\n".
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for item in error.errors {
            let line = item.location.line
            precondition(line == 0 || (line >= 1 && line <= lines.count), "error outside the text: \(item)")
        }
    }
    return 0
}

// SwiftPM links an executable with its entry point renamed to `FuzzConfig_main` (and `main` defined
// as that), so libFuzzer's own `main` is never pulled in: start its driver from here.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt
) -> CInt

@_cdecl("FuzzConfig_main")
public func fuzzConfigMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv) { start, count in fuzzConfig(start, count) }
}
