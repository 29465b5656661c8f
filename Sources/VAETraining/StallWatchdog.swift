// StallWatchdog: ends the job when this rank stops making progress. A rank waiting in a collective needs no
// thread: the communicator's waits give up by themselves after watchdog.timeout_s and name the rank they
// waited for. What no wait can catch is this rank stuck in its own work (a deadlocked library, a hung file
// system under a checkpoint): this thread does, and ends the job through the communicator's abort, so that
// its peers do not wait for ever either. A rank stopped whole (SIGSTOP) stops this thread too; its peers'
// waits name it, and their abort makes the launcher kill it.
//
// It measures stalls, not work: the loop marks each micro-batch it starts, and rank 0's writer thread each
// file and picture it starts, so a slow step or a big save is progress, and only one piece of work that
// takes longer than the limit by itself is a stall. While the loop waits for the writer, the writer's
// progress is what counts.

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
        /// After `step` steps: the ranks' weight check, a snapshot for the writer.
        case writing(String, afterStep: Int)
        /// After `step` steps: for rank 0's writer to finish its save; the writer's own progress is watched.
        case waitingForWriter(afterStep: Int)

        var description: String {
            switch self {
            case .computing(let step): "the forward and backward passes of step \(step)"
            case .exchanging(let step): "the gradient allreduce of step \(step)"
            case .writing(let what, let step): "\(what) after step \(step)"
            case .waitingForWriter(let step): "the wait for rank 0's writer after step \(step)"
            }
        }
    }

    private let limit: Duration
    private let state: Mutex<(activity: Activity, since: ContinuousClock.Instant)>
    private let stopped = DispatchSemaphore(value: 0)
    private let background: (@Sendable () -> BackgroundWork?)?
    private let end: @Sendable (String) -> Never

    /// Starts the watching thread; `background` tells what a thread working beside the loop (rank 0's writer)
    /// is doing and since when, nil while it is idle; `end` reports and ends the job. Call `stop()` when done.
    init(limit: Duration, starting activity: Activity, background: (@Sendable () -> BackgroundWork?)? = nil,
         end: @escaping @Sendable (String) -> Never) {
        self.limit = limit
        self.background = background
        self.end = end
        state = Mutex((activity, ContinuousClock.now))
        let thread = Thread { [self] in watch() }
        thread.name = "stall watchdog"
        thread.start()
    }

    func mark(_ activity: Activity) { state.withLock { $0 = (activity, ContinuousClock.now) } }

    func stop() { stopped.signal() }

    private func stall(_ duration: Duration, _ what: String) -> Never {
        end("no progress for \(Int(duration.seconds)) s in \(what) (watchdog.timeout_s \(String(format: "%g", limit.seconds))); ending the job")
    }

    private func watch() {
        let poll = min(limit / 4, .seconds(1))
        while stopped.wait(timeout: .now() + poll.seconds) == .timedOut {
            let (activity, since) = state.withLock { $0 }, now = ContinuousClock.now
            if let work = background?(), now - work.since > limit {
                stall(now - work.since, "\(work.what), written in the background")
            }
            switch activity {
            case .waitingForWriter: continue  // the writer's progress, just checked, is what counts
            // A wait gives up after `limit` by itself, with a better message; this is only its backstop.
            case .exchanging: if now - since > limit * 2 { stall(now - since, "\(activity)") }
            default: if now - since > limit { stall(now - since, "\(activity)") }
            }
        }
    }
}
