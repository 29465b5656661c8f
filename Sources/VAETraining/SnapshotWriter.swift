// SnapshotWriter: rank 0's checkpoints, and its pictures, each written by a thread of its own while training
// goes on (PyTorch DCP's async_save, for this loop). At a save point the loop copies what the save needs (for
// a checkpoint the weights and batch-norm statistics, Adam's moments and step, and the weights' average; for
// pictures the weights they show, the average when the run keeps one), a few MB, into the writer's shadow
// model and goes on; the thread writes from that copy, so every file holds the bits it would
// have held had the loop waited for it. Checkpoints and pictures are two writers, so slow pictures never hold
// a checkpoint back.
//
// Each writer has one save in flight at a time. A save that comes due while the writer's last one is still
// being written waits for it, and the wait is reported (the epoch line and its metrics record). A save that
// failed (a checkpoint on a full disk) is thrown at the loop's next step; pictures that cannot be written cost
// a warning, as before. The loop waits for both writers at the end of the run and on a signal, so the last
// checkpoint is whole when the process ends.

import Foundation
import Synchronization
import VAEMath
import VAESupport

/// Draws the pictures after an epoch (its number), tells `warn` what it could not write, names each figure to
/// `progress` as it starts it, and returns the directory written, if any.
public typealias PictureWriting = (_ afterEpoch: Int, _ warn: (String) -> Void, _ progress: (String) -> Void) throws -> String?

/// What a writer's thread is doing and since when, for the watchdog.
struct BackgroundWork: Sendable {
    let what: String
    let since: ContinuousClock.Instant
}

final class SnapshotWriter<Job: Sendable>: @unchecked Sendable {
    /// Writes `job` from the shadow copy; says what it wrote through `say`, and names each piece it starts
    /// (a file, a figure) to `progress`, which the watchdog hears.
    typealias Write = (_ job: Job, _ say: (String) -> Void, _ progress: (String) -> Void) throws -> Void

    /// What a save copies.
    enum Copies {
        /// The weights, Adam's state and the weights' average: a checkpoint's.
        case everything
        /// The weights shown: the average when the run keeps one, else the weights; batch-norm statistics beside.
        case shownWeights
    }

    /// The copy the thread writes from: the model's weights and state, and (copying everything) Adam's state
    /// and the weights' average.
    let shadow: VariationalAutoencoder
    let shadowOptimizer: Adam?
    let shadowAverage: WeightAverage?
    private let copies: Copies
    private var write: Write?
    private let timelineRow: Timeline.Row
    private let timeline: Timeline?
    private let queued = DispatchSemaphore(value: 0)
    private let idle = DispatchSemaphore(value: 1)
    private struct State {
        var job: Job?
        var activity: BackgroundWork?
        var lines: [String] = []
        var failure: VAEError?
        var finished = false
    }
    private let state = Mutex(State())

    /// `makeWrite` is handed this writer's shadow model, optimizer and average (the last two only when copying
    /// everything, the average only when the run keeps one).
    init(model: VariationalAutoencoder, average: WeightAverage?, copies: Copies, convolutionBackend: ConvolutionBackend, timeline: Timeline?,
         row: Timeline.Row, makeWrite: (_ shadow: VariationalAutoencoder, _ optimizer: Adam?, _ average: WeightAverage?) throws -> Write) throws {
        shadow = VariationalAutoencoder(model.architecture, seed: 0, convolutionBackend: convolutionBackend)
        shadowOptimizer = copies == .everything ? Adam(parameterCount: model.parameters.count) : nil
        shadowAverage = copies == .everything ? average.map { WeightAverage(decay: $0.decay, of: model.parameters) } : nil
        self.copies = copies
        self.timeline = timeline
        timelineRow = row
        write = try makeWrite(shadow, shadowOptimizer, shadowAverage)
        let thread = Thread { [self] in work() }
        thread.name = "snapshot writer"
        thread.start()
    }

    /// What the thread is doing, nil while it is idle.
    var activity: BackgroundWork? { state.withLock { $0.activity } }

    /// Copies what the save needs from `model`, `optimizer` and `average` and hands `job` to the thread; first
    /// waits for the save in flight, if any, and returns how long that took. Throws the last save's failure, if it failed.
    func save(_ job: Job, model: VariationalAutoencoder, optimizer: Adam, average: WeightAverage?) throws -> Duration {
        let started = ContinuousClock.now
        idle.wait()
        let waited = started.duration(to: .now)
        if let failure = state.withLock({ $0.failure }) {
            idle.signal()
            throw failure
        }
        timeline.span("snapshot") {
            switch (copies, average) {
            case (.everything, _):
                shadow.parameters.copyWeights(from: model.parameters)
                shadowOptimizer?.copyState(from: optimizer)
                if let average { shadowAverage?.copy(from: average) }
            case (.shownWeights, let average?): average.write(into: shadow.parameters, statistics: model.parameters)
            case (.shownWeights, nil): shadow.parameters.copyWeights(from: model.parameters)
            }
        }
        // Busy from now: a thread that never picks the job up is a stall too.
        state.withLock { state in
            state.job = job
            state.activity = BackgroundWork(what: "the start of a save", since: .now)
        }
        queued.signal()
        return waited
    }

    /// The lines the thread has to say since the last call (a checkpoint's path, a picture directory, warnings);
    /// throws when its last save failed.
    func collect() throws -> [String] {
        try state.withLock { state in
            defer { state.lines = [] }
            if let failure = state.failure { throw failure }
            return state.lines
        }
    }

    /// Waits for the save in flight, then stops the thread; returns its last lines, or throws its failure.
    /// Later calls only collect.
    func finish() throws -> [String] {
        idle.wait()
        defer { idle.signal() }
        if !state.withLock({ state in defer { state.finished = true }; return state.finished }) { queued.signal() }
        return try collect()
    }

    private func work() {
        // A background thread of one math thread, so that it takes no more than a core from training.
        Kernels.limitCallingThread(to: 1)
        while true {
            queued.wait()
            guard let job = state.withLock({ state -> Job? in defer { state.job = nil }; return state.job }), let write else {
                write = nil  // what it holds (the pictures' test set) goes with the thread
                return
            }
            let say = { (line: String) in self.state.withLock { $0.lines.append(line) } }
            let progress = { (what: String) in self.state.withLock { $0.activity = BackgroundWork(what: what, since: .now) } }
            do { try timeline.span("\(timelineRow)", row: timelineRow) { try write(job, say, progress) } } catch let error as VAEError {
                state.withLock { $0.failure = error }
            } catch {
                state.withLock { $0.failure = VAEError("\(error)") }
            }
            state.withLock { $0.activity = nil }
            idle.signal()
        }
    }
}
