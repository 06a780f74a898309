import ArgumentParser
import Logging
import TernProxy

/// `tern proxy`: a thin shell over `ProxyLauncher`.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run the reverse proxy that proxy.conf describes.",
        discussion: """
            Reads ./proxy.conf (or --config PATH), binds its listeners and serves until SIGTERM or SIGINT, which stop accepting and let requests in flight finish (shutdown-timeout, 30 s by default). SIGHUP reloads the file and the certificates: a file with errors is refused, its errors are logged, and the running configuration keeps serving.

            Errors in the file are printed as file:line:column: what is wrong. The grammar is in docs/proxy-conf.md.

            EXIT STATUS
              0  stopped cleanly, or --check found no error
              1  the configuration has errors
              2  it could not start (a port in use, a certificate that will not load)
            """
    )

    @Option(name: .long, help: ArgumentHelp("The configuration file.", valueName: "path"))
    var config: String = "proxy.conf"

    @Flag(name: .long, help: "Check the configuration and exit, like nginx -t.")
    var check = false

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    var logLevel: String = "info"

    func run() async throws {
        let report: @Sendable (String) -> Void = { Terminal.stderr.write($0.hasSuffix("\n") ? $0 : $0 + "\n") }
        if self.check {
            guard ProxyLauncher.check(path: self.config, report: report) else { throw ExitCode(1) }
            Terminal.stdout.write("\(self.config): configuration is valid\n")
            return
        }
        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        switch await ProxyLauncher.run(path: self.config, logger: Logger(label: "tern.proxy"), report: report) {
        case .stopped: return
        case .configurationInvalid: throw ExitCode(1)
        case .startFailed: throw ExitCode(2)
        }
    }
}
