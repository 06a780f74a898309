import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `tern`: the root command. Fetching is its default subcommand, so `tern GET URL` and
/// `tern URL` need no subcommand name; other faces of tern (`tern proxy`) are added to
/// `subcommands` beside `FetchCommand`.
public struct TernCommand: AsyncParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "tern",
        abstract: "A command-line HTTP client, and a reverse proxy (tern proxy).",
        discussion: "With no subcommand, tern fetches: see 'tern --help' (which is 'tern fetch --help').",
        version: "tern \(TernCommand.version)",
        subcommands: [FetchCommand.self, ProxyCommand.self],
        defaultSubcommand: FetchCommand.self,
        helpNames: [.long])

    public init() {}
}

/// The process entry point, used by `Sources/tern/main.swift`.
public enum TernMain {
    /// Parses `CommandLine.arguments`, runs the command and exits with its status.
    public static func main() async -> Never {
        let status = await Self.run(Array(CommandLine.arguments.dropFirst()))
        exit(status)
    }

    /// Names of subcommands other than fetch (`proxy`, later): their help is argument-parser's.
    static let otherSubcommands: Set<String> = Set(
        TernCommand.configuration.subcommands.compactMap { $0.configuration.commandName }
    ).subtracting(["fetch"])

    /// First words that are not a fetch's method or URL.
    static let subcommandWords: Set<String> = Self.otherSubcommands.union(["fetch", "help"])

    /// `tern --help`, `tern help`, `tern fetch --help`, `tern GET URL --help`: the fetch manual.
    static func asksForFetchHelp(_ arguments: [String]) -> Bool {
        guard let first = arguments.first, !Self.otherSubcommands.contains(first) else { return false }
        if arguments == ["help"] || arguments == ["help", "fetch"] { return true }
        let beforeTerminator = arguments.prefix { $0 != "--" }
        return beforeTerminator.contains("--help")
    }

    /// The fetch command's help, followed by the rest of the manual.
    public static func fetchManual() -> String {
        let help = TernCommand.helpMessage(for: FetchCommand.self, columns: 80)
        return help.trimmingCharacters(in: .newlines) + "\n\n" + FetchCommand.epilogue + "\n"
    }

    /// Flags that only the root command answers.
    static let rootFlags: Set<String> = ["--version", "--generate-completion-script", "--experimental-dump-help", "--help"]

    /// Parses `arguments`. Fetching is parsed by `FetchCommand` directly — the same result as going
    /// through the root and its default subcommand, at half the parsing cost (argument-parser
    /// reflects over every option group once per level), which shows in a short-lived process.
    static func parse(_ arguments: [String]) throws -> any ParsableCommand {
        let isSubcommand = arguments.first.map { Self.otherSubcommands.contains($0) || $0 == "fetch" || $0 == "help" } ?? true
        let needsRoot = arguments.contains { argument in
            Self.rootFlags.contains(argument) || Self.rootFlags.contains { argument.hasPrefix($0 + "=") }
        }
        if isSubcommand || needsRoot {
            return try TernCommand.parseAsRoot(arguments)
        }
        return try FetchCommand.parseAsRoot(arguments)
    }

    /// Runs tern with `arguments` (without the program name) and returns the exit status.
    /// Parse errors print one `tern: …` line on stderr and return 64.
    public static func run(_ arguments: [String]) async -> Int32 {
        if let settings = FetchSettings.plain(arguments, subcommands: Self.subcommandWords) {
            return await FetchCommand.fetch(settings, environment: .current).rawValue
        }
        if Self.asksForFetchHelp(arguments) {
            Terminal.stdout.write(Self.fetchManual())
            return 0
        }
        do {
            var command = try Self.parse(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch {
            let code = TernCommand.exitCode(for: error)
            if code == .success {
                // --help, --version, --generate-completion-script
                Terminal.stdout.write(TernCommand.fullMessage(for: error) + "\n")
                return 0
            }
            let message = TernCommand.message(for: error)
                .split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            let text = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
            Terminal.stderr.write("tern: \(text) (see 'tern --help')\n")
            return ExitStatus.usage.rawValue
        }
    }
}
