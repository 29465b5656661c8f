// StallWatchdog: ends the job when this rank stops making progress. A rank waiting in a collective needs no
// thread: the communicator's waits give up by themselves after watchdog.timeout_s and name the rank they
// waited for. What no wait can catch is this rank stuck in its own work (a deadlocked library, a hung file
// system under a checkpoint): this thread does, and ends the job through the communicator's abort, so that
// its peers do not wait for ever either. A rank stopped whole (SIGSTOP) stops this thread too; its peers'
// waits name it, and their abort makes the launcher kill it.

import Foundation
import Synchronization
import VAESupport

final class StallWatchdog: Sendable {
    /// What the rank is doing, marked as it starts.
    enum Activity: Sendable, CustomStringConvertible {
        /// Global step (1-based): gathering, forward and backward passes.
        case computing(step: Int)
        /// Waiting for the step's sums: the communicator's own time limit comes first.
        case exchanging(step: Int)
        /// After `step` steps: a checkpoint, pictures, the ranks' weight check.
        case writing(String, afterStep: Int)

        var description: String {
            switch self {
            case .computing(let step): "the forward and backward passes of step \(step)"
            case .exchanging(let step): "the gradient allreduce of step \(step)"
            case .writing(let what, let step): "\(what) after step \(step)"
            }
        }
    }

    private let limit: Duration
    private let state: Mutex<(activity: Activity, since: ContinuousClock.Instant)>
    private let stopped = DispatchSemaphore(value: 0)
    private let end: @Sendable (String) -> Never

    /// Starts the watching thread; `end` reports and ends the job. Call `stop()` when the loop is done.
    init(limit: Duration, starting activity: Activity, end: @escaping @Sendable (String) -> Never) {
        self.limit = limit
        self.end = end
        state = Mutex((activity, ContinuousClock.now))
        let thread = Thread { [self] in watch() }
        thread.name = "stall watchdog"
        thread.start()
    }

    func mark(_ activity: Activity) { state.withLock { $0 = (activity, ContinuousClock.now) } }

    func stop() { stopped.signal() }

    private func watch() {
        let poll = min(limit / 4, .seconds(1))
        while stopped.wait(timeout: .now() + poll.seconds) == .timedOut {
            let (activity, since) = state.withLock { $0 }
            // A wait gives up after `limit` by itself, with a better message; this is only its backstop.
            let allowed: Duration
            if case .exchanging = activity { allowed = limit * 2 } else { allowed = limit }
            let stalled = ContinuousClock.now - since
            if stalled > allowed {
                end("no progress for \(Int(stalled.seconds)) s in \(activity) (watchdog.timeout_s \(String(format: "%g", limit.seconds))); ending the job")
            }
        }
    }
}
