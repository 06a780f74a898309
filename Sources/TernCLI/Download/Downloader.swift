import Foundation
import HTTPTypes
import NIOCore
import TernClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams a response body into a file: a fresh one, or appended to a partial one after a 206.
struct Downloader: Sendable {
    /// `-o FILE`, or nil to name the file from the response.
    let path: String?
    /// Bytes already on disk when the request asked for a Range.
    let resumeFrom: Int64
    let url: String
    let showProgress: Bool
    let err: Terminal

    struct Failure: Error {
        var message: String
    }

    static func existingSize(_ path: String) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return 0 }
        return Int64(info.st_size)
    }

    /// `bytes 100-199/200` → (100, 200); `bytes */200` → (nil, 200).
    static func parseContentRange(_ value: String) -> (start: Int64?, total: Int64?)? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = trimmed.dropFirst(6)
        let parts = spec.split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let total = Int64(parts[1])
        if parts[0] == "*" { return (nil, total) }
        guard let dash = parts[0].firstIndex(of: "-"), let start = Int64(parts[0][..<dash]) else { return nil }
        return (start, total)
    }

    func save(_ response: Response) async throws {
        let fields = response.headerFields
        let code = response.status.code
        let name: String
        if let path = self.path {
            name = path
        } else {
            let chosen = DownloadName.filename(contentDisposition: fields[.contentDisposition], url: self.url, contentType: fields[.contentType])
            name = DownloadName.unique(chosen) { FileManager.default.fileExists(atPath: $0) }
        }

        // 416 to a resume: the file is complete when the server's length is what we have.
        if code == 416 {
            if let range = fields[.contentRange].flatMap(Self.parseContentRange), range.total == self.resumeFrom {
                if self.showProgress { self.err.write("'\(name)' is already complete (\(ProgressBar.bytes(self.resumeFrom)))\n") }
                return
            }
            throw Failure(message: "cannot resume '\(name)': the server answered 416 Range Not Satisfiable")
        }

        var append = false
        var offset: Int64 = 0
        if code == 206 && self.resumeFrom > 0 {
            guard let range = fields[.contentRange].flatMap(Self.parseContentRange), range.start == self.resumeFrom else {
                throw Failure(message: "cannot resume '\(name)': the server's Content-Range does not start at byte \(self.resumeFrom)")
            }
            append = true
            offset = self.resumeFrom
        }
        let length = fields[.contentLength].flatMap { Int64($0) }
        let total = length.map { $0 + offset }

        let flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        let fd = open(name, flags, 0o644)
        guard fd >= 0 else {
            throw Failure(message: "cannot open '\(name)' for writing: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let file = Terminal(fd: fd)

        if self.showProgress {
            let what = append ? "Resuming at \(ProgressBar.bytes(offset)), downloading" : "Downloading"
            self.err.write("\(what) \(total.map(ProgressBar.bytes) ?? "unknown size") to '\(name)'\n")
        }
        let clock = ContinuousClock()
        let start = clock.now
        var lastDraw = start
        var received: Int64 = offset
        var newBytes: Int64 = 0
        let columns = self.showProgress ? self.err.columns : 80
        do {
            for try await chunk in response.body {
                do {
                    try file.write(chunk)
                } catch let error as Terminal.WriteError {
                    throw Failure(message: "cannot write '\(name)': \(error)")
                }
                received += Int64(chunk.readableBytes)
                newBytes += Int64(chunk.readableBytes)
                if self.showProgress {
                    let now = clock.now
                    if now - lastDraw >= .milliseconds(100) {
                        lastDraw = now
                        let elapsed = Self.seconds(now - start)
                        let line = ProgressBar.line(received: received, total: total, elapsed: elapsed, width: columns)
                        self.err.write("\r\u{1B}[K" + line)
                    }
                }
            }
        } catch {
            if self.showProgress { self.err.write("\n") }
            throw error
        }
        if let total, received < total {
            if self.showProgress { self.err.write("\n") }
            throw Failure(message: "incomplete download: got \(received) of \(total) bytes in '\(name)' (resume with -c)")
        }
        if self.showProgress {
            let elapsed = Self.seconds(clock.now - start)
            let line = ProgressBar.line(received: received, total: total ?? received, elapsed: elapsed, width: columns)
            let rate = elapsed > 0 ? Double(newBytes) / elapsed : 0
            self.err.write("\r\u{1B}[K" + line + "\n")
            self.err.write("Done. \(ProgressBar.bytes(newBytes)) in \(Fetcher.seconds(elapsed)) (\(ProgressBar.bytes(Int64(rate)))/s) to '\(name)'\n")
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (s, attoseconds) = duration.components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
