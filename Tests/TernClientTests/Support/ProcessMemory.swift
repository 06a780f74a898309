import Foundation

/// This process's memory, read from /proc (Linux only), for tests that prove a body is streamed, not buffered.
enum ProcessMemory {
    /// Resident set size in bytes (`VmRSS`), or nil where /proc/self/status does not exist.
    static func residentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            // "VmRSS:	   12345 kB"
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let kibibytes = Int(fields[1]) else { return nil }
            return kibibytes * 1024
        }
        return nil
    }
}
