import Logging
import NIOCore
import UnixSignals

/// `tern proxy`: loads proxy.conf, binds, and serves until SIGTERM or SIGINT; SIGHUP reloads
/// the file (a bad file is refused with its errors and the old configuration keeps serving).
public enum ProxyLauncher {
    public enum Outcome: Sendable, Equatable {
        case stopped
        case configurationInvalid
        case startFailed
    }

    /// Validates the file; prints `file:line:column: …` lines on failure (`tern proxy --check`).
    public static func check(path: String, report: (String) -> Void) -> Bool {
        do {
            _ = try ProxyConfiguration.load(path: path)
            return true
        } catch {
            report(error.description)
            return false
        }
    }

    public static func run(path: String, logger: Logger, report: @Sendable (String) -> Void) async -> Outcome {
        let configuration: ProxyConfiguration
        do {
            configuration = try ProxyConfiguration.load(path: path)
        } catch {
            report(error.description)
            return .configurationInvalid
        }
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        let server: ProxyServer
        do {
            server = try ProxyServer(configuration: configuration, logger: logger)
        } catch {
            report("\(path): \(error)")
            return .startFailed
        }
        do {
            let addresses = try await server.start()
            logger.info("tern proxy serving", metadata: ["listeners": "\(addresses.map { "\($0)" })", "config": "\(path)"])
        } catch {
            report("\(error)")
            try? await server.shutdown(timeout: .seconds(1))
            return .startFailed
        }
        for await signal in signals {
            if signal == .sighup {
                do {
                    try server.reload(try ProxyConfiguration.load(path: path))
                    logger.info("configuration reloaded", metadata: ["config": "\(path)"])
                } catch {
                    logger.error("reload refused; the previous configuration keeps serving", metadata: ["errors": "\(error)"])
                }
                continue
            }
            logger.info("shutting down", metadata: ["signal": "\(signal)"])
            break
        }
        try? await server.shutdown()
        logger.info("stopped")
        return .stopped
    }
}
