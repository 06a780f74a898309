import Foundation

extension ProxyConfiguration {
    /// A config larger than this is not a config; refuse it before reading it into memory.
    static let maximumFileSize = 4 << 20

    /// Reads and validates a file; relative paths in it (certificates, keys, CA files, error-page
    /// templates, log files, Unix sockets) are resolved against the file's directory.
    public static func load(path: String) throws(ConfigErrors) -> ProxyConfiguration {
        let whole = SourceLocation(file: path, line: 0, column: 0)
        let bytes: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let size = attributes[.size] as? Int, size > Self.maximumFileSize {
                throw ConfigErrors(errors: [ConfigError(location: whole, message: "file is larger than \(Self.maximumFileSize >> 20) MiB")])
            }
            if let type = attributes[.type] as? FileAttributeType, type == .typeDirectory {
                throw ConfigErrors(errors: [ConfigError(location: whole, message: "is a directory, not a file")])
            }
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as ConfigErrors {
            throw error
        } catch {
            throw ConfigErrors(errors: [ConfigError(location: whole, message: "cannot read the file: \(Self.reason(error))")])
        }
        return try Self.parse(bytes: bytes, file: path, baseDirectory: Self.directory(of: path))
    }

    /// Validates proxy.conf text; `file` names it in errors, relative paths are resolved against
    /// `baseDirectory` (left relative when it is empty).
    public static func parse(_ text: String, file: String, baseDirectory: String) throws(ConfigErrors) -> ProxyConfiguration {
        try Self.parse(bytes: text.utf8, file: file, baseDirectory: baseDirectory)
    }

    /// The bytes as they are: text that is not UTF-8 is reported where it breaks.
    static func parse(bytes: some Collection<UInt8>, file: String, baseDirectory: String) throws(ConfigErrors) -> ProxyConfiguration {
        var diagnostics = ConfigDiagnostics()
        let (tokens, lexerErrors) = ConfigLexer.tokenize(bytes, file: file)
        diagnostics.append(contentsOf: lexerErrors)
        let (directives, parserErrors) = ConfigParser.parse(tokens)
        diagnostics.append(contentsOf: parserErrors)
        // After a syntax error the tree may be cut short: "no listen" would only be noise.
        let syntaxIsSound = diagnostics.isEmpty
        let configuration = ConfigInterpreter.interpret(
            directives, file: file, baseDirectory: baseDirectory, diagnostics: &diagnostics,
            checkCompleteness: syntaxIsSound)
        guard diagnostics.isEmpty else { throw diagnostics.sorted() }
        return configuration
    }

    /// `conf/proxy.conf` → `conf`, `/etc/proxy.conf` → `/`, `proxy.conf` → `` (the working directory).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
            let code = POSIXErrorCode(rawValue: Int32(underlying.code))
        {
            return POSIXError(code).localizedDescription
        }
        if nsError.domain == NSCocoaErrorDomain {
            switch nsError.code {
            case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file"
            case NSFileReadNoPermissionError: return "permission denied"
            default: break
            }
        }
        return nsError.localizedDescription
    }
}
