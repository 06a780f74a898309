import Foundation

/// Runs the built `tern` binary with pipes for stdin, stdout and stderr.
enum TernProcess {
    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var out: String { String(decoding: self.stdout, as: UTF8.self) }
        var err: String { String(decoding: self.stderr, as: UTF8.self) }
    }

    /// The `tern` executable beside the test bundle (the products directory), else `.build/debug/tern`.
    static let executable: URL = {
        let candidates = [
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug"),
        ]
        for directory in candidates {
            let url = directory.appendingPathComponent("tern")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        fatalError("tern binary not found near \(candidates.map(\.path)); run 'swift build --build-tests'")
    }()

    static func run(_ arguments: [String], stdin: Data? = nil, directory: URL? = nil,
                    environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NO_COLOR")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input: Pipe?
        if stdin != nil {
            input = Pipe()
            process.standardInput = input
        } else {
            input = nil
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        if let input, let stdin {
            DispatchQueue.global().async {
                input.fileHandleForWriting.write(stdin)
                try? input.fileHandleForWriting.close()
            }
        }
        let errData = LockedData()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData.set(err.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: outData, stderr: errData.get())
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tern-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ data: Data) {
        self.lock.lock()
        self.data = data
        self.lock.unlock()
    }
    func get() -> Data {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.data
    }
}
