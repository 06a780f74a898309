import NIOCore
import NIOHTTP1
import TernClient

/// One server's active health check: a GET of `path` every `interval` from one event loop. The
/// verdict flips after `fails` failures or `passes` successes in a row, and is shared with every
/// loop through `ServerHealth`. It stops when a reload replaces the runtime it was started for.
final class HealthProbe: ResponseDelegate {
    let agent: Agent
    let server: UpstreamGroup.Server
    let group: UpstreamGroup
    let check: ProxyConfiguration.HealthCheck
    let state: LoopState
    let generation: Int
    private var passes = 0
    private var fails = 0
    private var ok = false

    init(agent: Agent, server: UpstreamGroup.Server, group: UpstreamGroup, check: ProxyConfiguration.HealthCheck, state: LoopState, generation: Int) {
        self.agent = agent
        self.server = server
        self.group = group
        self.check = check
        self.state = state
        self.generation = generation
    }

    func schedule(in delay: TimeAmount) {
        _ = self.state.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            guard self.state.runtime.generation == self.generation else { return }
            self.run()
        }
    }

    private func run() {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: self.check.path)
        head.headers.add(name: "User-Agent", value: "tern-health-check")
        self.ok = false
        _ = self.agent.execute(
            head, to: self.server.origin, tls: self.group.tls, on: self.state.eventLoop,
            deadline: .now() + self.check.timeout.timeAmount, delegate: self
        )
    }

    private func record(_ ok: Bool) {
        if ok {
            self.passes += 1
            self.fails = 0
            if self.server.health.isCheckedDown && self.passes >= self.check.passes { self.server.health.setChecked(up: true) }
        } else {
            self.fails += 1
            self.passes = 0
            if !self.server.health.isCheckedDown && self.fails >= self.check.fails { self.server.health.setChecked(up: false) }
        }
        self.schedule(in: self.check.interval.timeAmount)
    }

    func responseHead(_ head: HTTPResponseHead, execution: RequestExecution) {
        self.ok = self.check.expectedStatus.contains(Int(head.status.code))
    }
    func responseBodyPart(_ buffer: ByteBuffer, execution: RequestExecution) {}
    func responseEnd(_ trailers: HTTPHeaders?, execution: RequestExecution) { self.record(self.ok) }
    func responseFailed(_ error: TernClientError, execution: RequestExecution) { self.record(false) }
}
