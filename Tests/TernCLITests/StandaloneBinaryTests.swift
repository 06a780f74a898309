import Foundation
import Testing

/// The `tern` binary needs nothing beside it: its templates and Lua library are compiled in
/// (`PackageResources`), not read from resource bundles next to it. A binary installed on its own
/// (copied to `/usr/local/bin`, say) used to stop at its first page with SwiftPM's "could not load
/// resource bundle" trap once its build directory was gone.
@Suite(.serialized) struct StandaloneBinaryTests {
    @Test func aCopiedBinaryServesTheShippedErrorPage() throws {
        let directory = try TernProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let binary = directory.appendingPathComponent("tern")
        try FileManager.default.copyItem(at: TernProcess.executable, to: binary)
        let contents = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(contents == ["tern"], "nothing but the binary: \(contents)")
        // SwiftPM's bundle accessor, with its trap, is in a binary only when a module reads a bundle
        // (here, its build directory would still have hidden the trap from this test).
        let image = try Data(contentsOf: binary)
        #expect(image.range(of: Data("could not load resource bundle".utf8)) == nil, "a module of tern reads a resource bundle")

        // Port 1 on loopback refuses connections: every request gets the shipped 502 page.
        let socket = directory.appendingPathComponent("proxy.sock").path
        let config = directory.appendingPathComponent("proxy.conf")
        try "listen unix:\(socket)\nworkers 1\nroute / { proxy http://127.0.0.1:1 }\n".write(to: config, atomically: true, encoding: .utf8)
        let proxy = Process()
        proxy.executableURL = binary
        proxy.arguments = ["proxy", "--config", config.path, "--log-level", "error"]
        proxy.currentDirectoryURL = directory
        proxy.standardOutput = FileHandle.nullDevice
        proxy.standardError = FileHandle.nullDevice
        try proxy.run()
        defer { if proxy.isRunning { proxy.terminate() } }
        var waited = 0
        while !FileManager.default.fileExists(atPath: socket), proxy.isRunning, waited < 100 {
            Thread.sleep(forTimeInterval: 0.05)
            waited += 1
        }
        #expect(proxy.isRunning, "the copied binary is still running")

        let page = try TernProcess.run(["--unix-socket", socket, "--print", "hb", "http://app.local/"])
        #expect(page.out.hasPrefix("HTTP/1.1 502 Bad Gateway"), "\(page.out)")
        #expect(page.out.contains("<!DOCTYPE html>"), "the page from the shipped template: \(page.out)")

        proxy.terminate()  // SIGTERM: a clean stop
        proxy.waitUntilExit()
        #expect(proxy.terminationReason == .exit && proxy.terminationStatus == 0)
    }
}
