import Foundation
import HTTPTypes
import NIOCore
import TernClient

/// Runs a `FetchJob` through one `Agent`: retries, downloads, several URLs at once.
struct Fetcher: Sendable {
    let job: FetchJob
    let out = Terminal.stdout
    let err = Terminal.stderr

    func run() async -> ExitStatus {
        // One loop for one URL; for several, as many as run at once (up to one per core).
        let loops = self.job.urls.count == 1 ? 1 : min(System.coreCount, max(1, min(self.job.parallel, self.job.urls.count)))
        let agent = Agent(configuration: self.job.configuration, numberOfThreads: loops)
        let status: ExitStatus
        if self.job.urls.count == 1 {
            status = await self.fetchOne(index: 0, agent: agent)
        } else {
            status = await self.fetchMany(agent: agent)
        }
        try? await agent.shutdown()
        return status
    }

    // MARK: One URL, streamed

    func fetchOne(index: Int, agent: Agent) async -> ExitStatus {
        let printer = ResponsePrinter(settings: self.job.output, out: self.out)
        do {
            var extraFields = HTTPFields()
            var resumeFrom: Int64 = 0
            var downloadPath: String?
            if let download = self.job.download {
                downloadPath = download.path
                if download.resume {
                    let path = download.path ?? DownloadName.fromURL(self.job.urls[index]) ?? "index"
                    downloadPath = path
                    resumeFrom = Downloader.existingSize(path)
                    if resumeFrom > 0 { extraFields[.range] = "bytes=\(resumeFrom)-" }
                }
            }
            let request = self.request(index: index, extraFields: extraFields)
            if self.job.output.requestHead || self.job.output.requestBody {
                try printer.printRequest(request, body: self.job.body, displayURL: self.job.urls[index], userAgent: self.job.configuration.userAgent)
            }
            let response = try await self.send(request, agent: agent)
            if self.job.download != nil && (200..<300).contains(response.status.code) || response.status.code == 416 && resumeFrom > 0 {
                let downloader = Downloader(
                    path: downloadPath, resumeFrom: resumeFrom, url: response.url,
                    showProgress: self.job.output.progress, err: self.err)
                if self.job.output.responseHead { try printer.printHead(response) }
                try await downloader.save(response)
                return .success
            }
            try await printer.printResponse(response, separated: self.job.output.requestHead || self.job.output.requestBody)
            return self.statusCheck(response, url: self.job.urls[index])
        } catch {
            return self.report(error, url: self.job.urls[index])
        }
    }

    // MARK: Several URLs, at once, printed in order

    enum Outcome: Sendable {
        case response(Response, ByteBuffer)
        case downloaded
        case failed(any Error)
    }

    func fetchMany(agent: Agent) async -> ExitStatus {
        let count = self.job.urls.count
        var worst: ExitStatus = .success
        await withTaskGroup(of: (Int, Outcome).self) { group in
            var next = 0
            var printed = 0
            var ready: [Int: Outcome] = [:]
            func startNext() {
                guard next < count else { return }
                let index = next
                next += 1
                group.addTask { (index, await self.collect(index: index, agent: agent)) }
            }
            for _ in 0..<min(self.job.parallel, count) { startNext() }
            while let (index, outcome) = await group.next() {
                startNext()
                ready[index] = outcome
                while let outcome = ready.removeValue(forKey: printed) {
                    let status = await self.emit(outcome, index: printed)
                    if worst == .success { worst = status }
                    printed += 1
                }
            }
        }
        return worst
    }

    func collect(index: Int, agent: Agent) async -> Outcome {
        do {
            let request = self.request(index: index, extraFields: [:])
            let response = try await self.send(request, agent: agent)
            if let download = self.job.download, (200..<300).contains(response.status.code) {
                let downloader = Downloader(path: download.path, resumeFrom: 0, url: response.url, showProgress: false, err: self.err)
                try await downloader.save(response)
                return .downloaded
            }
            let wantsBody = self.job.output.responseBody && self.job.method != .head
            let body = wantsBody ? try await response.body.collect(upTo: Int.max) : ByteBuffer()
            return .response(response, body)
        } catch {
            return .failed(error)
        }
    }

    func emit(_ outcome: Outcome, index: Int) async -> ExitStatus {
        let printer = ResponsePrinter(settings: self.job.output, out: self.out)
        switch outcome {
        case .downloaded:
            return .success
        case .failed(let error):
            return self.report(error, url: self.job.urls[index])
        case .response(let response, let body):
            do {
                if self.job.output.requestHead || self.job.output.requestBody {
                    let request = self.request(index: index, extraFields: [:])
                    try printer.printRequest(request, body: self.job.body, displayURL: self.job.urls[index], userAgent: self.job.configuration.userAgent)
                }
                try await printer.printResponse(response, collectedBody: body, separated: self.job.output.requestHead || self.job.output.requestBody)
            } catch {
                return self.report(error, url: self.job.urls[index])
            }
            return self.statusCheck(response, url: self.job.urls[index])
        }
    }

    // MARK: Sending, with retries

    func request(index: Int, extraFields: HTTPFields) -> Request {
        var fields = self.job.headerFields
        fields.append(contentsOf: extraFields)
        return Request(
            method: self.job.method, url: self.job.requestURLs[index], headerFields: fields,
            body: self.job.body.map { .bytes($0) })
    }

    static let retryableStatuses: Set<Int> = [408, 429, 500, 502, 503, 504]

    static func isRetryable(_ error: TernClientError) -> Bool {
        switch error.code {
        case .connectionRefused, .connectFailed, .connectTimeout, .readTimeout, .remoteClosed, .writeFailed,
             .tlsHandshakeTimeout, .poolWaitTimeout:
            return true
        default:
            return false
        }
    }

    /// Backoff before retry number `attempt` (0-based): delay · 2^attempt, at most 30 s; a
    /// Retry-After of whole seconds wins when it is not longer than that cap.
    static func backoff(attempt: Int, delay: Double, retryAfter: String?) -> Double {
        if let retryAfter, let seconds = Double(retryAfter.trimmingCharacters(in: .whitespaces)), seconds >= 0 {
            return min(seconds, 30)
        }
        return min(delay * pow(2, Double(attempt)), 30)
    }

    func send(_ request: Request, agent: Agent) async throws -> Response {
        let retries = self.job.isIdempotent ? self.job.retries : 0
        var attempt = 0
        while true {
            do {
                let response = try await agent.execute(request, timeout: self.job.maxTime)
                guard attempt < retries, Self.retryableStatuses.contains(response.status.code) else { return response }
                let wait = Self.backoff(attempt: attempt, delay: self.job.retryDelay, retryAfter: response.headerFields[.retryAfter])
                self.note("HTTP \(response.status.code), retrying in \(Self.seconds(wait)) (\(attempt + 1)/\(retries))")
                _ = try? await response.body.collect(upTo: 1 << 20)
                try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
            } catch let error as TernClientError where attempt < retries && Self.isRetryable(error) {
                let wait = Self.backoff(attempt: attempt, delay: self.job.retryDelay, retryAfter: nil)
                self.note("\(ExitStatus.message(for: error)), retrying in \(Self.seconds(wait)) (\(attempt + 1)/\(retries))")
                try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
            }
            attempt += 1
        }
    }

    static func seconds(_ value: Double) -> String {
        value < 10 ? "\((value * 100).rounded() / 100)s" : "\(Int(value))s"
    }

    // MARK: Status and errors

    func statusCheck(_ response: Response, url: String) -> ExitStatus {
        guard self.job.checkStatus else { return .success }
        let status = ExitStatus.forHTTPStatus(response.status.code, following: self.job.follow)
        if status != .success {
            self.err.write("tern: HTTP \(response.status.code) \(response.status.reasonPhrase) from \(url)\n")
        }
        return status
    }

    func note(_ text: String) {
        if !self.job.output.quiet { self.err.write("tern: \(text)\n") }
    }

    func report(_ error: any Error, url: String) -> ExitStatus {
        switch error {
        case let error as TernClientError:
            self.err.write("tern: \(ExitStatus.message(for: error, url: url))\n")
            return ExitStatus.forError(error)
        case let error as Terminal.WriteError where error.errno == EPIPE:
            return .error
        case let error as Downloader.Failure:
            self.err.write("tern: \(error.message)\n")
            return .error
        case let error as Terminal.WriteError:
            self.err.write("tern: cannot write output: \(error)\n")
            return .error
        case is CancellationError:
            self.err.write("tern: cancelled\n")
            return .interrupted
        default:
            self.err.write("tern: \(error)\n")
            return .error
        }
    }
}
