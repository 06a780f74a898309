import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `tls-reload-interval`: polls the certificate and key files of the `ssl` listeners and, when one
/// changes (modification time, size or inode), rebuilds that listener's `CertificateStore`. New
/// handshakes get the new certificate; open connections keep theirs. A pair that fails to load is
/// refused with a log line naming the file, and the old one keeps serving; it is tried again when
/// a file changes again (so a certificate written before its key is picked up once the key lands).
final class CertificateWatcher: Sendable {
    /// One ssl listener: its store and the certificates it serves.
    struct Target: Sendable {
        var store: CertificateStore
        var certificates: [ProxyConfiguration.Certificate]
    }

    private struct Signature: Equatable {
        var seconds: Int
        var nanoseconds: Int
        var size: Int
        var inode: UInt64
    }

    private let targets: @Sendable () -> [Target]
    private let logger: Logger
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// The last state seen of each file, by path.
    private let seen = Mutex<[String: Signature?]>([:])

    init(logger: Logger, targets: @escaping @Sendable () -> [Target]) {
        self.logger = logger
        self.targets = targets
        self.remember()
    }

    func start(interval: Duration) {
        let task = Task.detached { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                self.check()
            }
        }
        self.task.withLock { $0 = task }
    }

    func stop() {
        self.task.withLock { task in
            task?.cancel()
            task = nil
        }
    }

    /// Takes the current files as the baseline (after a SIGHUP reload, for instance).
    func remember() {
        var signatures: [String: Signature?] = [:]
        for target in self.targets() {
            for certificate in target.certificates {
                for path in [certificate.certificateChainPath, certificate.privateKeyPath] { signatures[path] = Self.signature(path) }
            }
        }
        self.seen.withLock { $0 = signatures }
    }

    /// One poll: reloads each store whose files changed since they were last seen.
    func check() {
        for target in self.targets() {
            let paths = target.certificates.flatMap { [$0.certificateChainPath, $0.privateKeyPath] }
            let current = paths.map { ($0, Self.signature($0)) }
            let changed = self.seen.withLock { seen in
                var changed: [String] = []
                for (path, signature) in current where seen[path] != .some(signature) {
                    changed.append(path)
                    seen[path] = signature
                }
                return changed
            }
            guard !changed.isEmpty else { continue }
            do {
                try target.store.reload(target.certificates)
                self.logger.info("certificates reloaded", metadata: ["changed": "\(changed)"])
            } catch {
                self.logger.error(
                    "changed certificate refused; the previous certificate keeps serving",
                    metadata: ["changed": "\(changed)", "error": "\(error)"]
                )
            }
        }
    }

    private static func signature(_ path: String) -> Signature? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        #if canImport(Darwin)
        let modified = info.st_mtimespec
        #else
        let modified = info.st_mtim
        #endif
        return Signature(
            seconds: Int(modified.tv_sec), nanoseconds: Int(modified.tv_nsec), size: Int(info.st_size), inode: UInt64(info.st_ino)
        )
    }
}
