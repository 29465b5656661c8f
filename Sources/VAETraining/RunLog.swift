// RunLog: what a run tells people after each step: a progress line and a metrics.jsonl record every
// training.log_every_steps steps (or the live line on a terminal), and at the end of each epoch its line,
// record and EpochReport. Rank 0 writes and prints; every rank keeps the reports.

import VAEMath
import VAESupport

final class RunLog {
    private unowned let trainer: Trainer
    private let metrics: MetricsLog?
    /// Rank 0's TensorBoard log, when it keeps one.
    let tensorBoard: TensorBoardLog?
    private let sayLine: ((String) -> Void)?
    private var epoch: Meter, interval: Meter
    /// The run's first step, and the steps done by the last step recorded.
    private let first: Int
    private(set) var done: Int
    /// Added by the loop: rank 0's waits, in this epoch, for a save still in flight before it could take the next.
    var saveWaitSeconds: Double {
        get { epoch.saveWaitSeconds }
        set { epoch.saveWaitSeconds = newValue }
    }

    /// `say` is nil on every rank but 0, which also writes metrics.jsonl (appending when `resuming`), and, with
    /// tensorboard.enabled, each record into a TensorBoard log of its own, a new file for this run segment.
    init(trainer: Trainer, first: Int, say: ((String) -> Void)?, resuming: Bool) throws {
        self.trainer = trainer
        sayLine = say
        let out = trainer.config.output.directory
        metrics = try say.map { try MetricsLog(directory: out, appending: resuming, warn: $0) }
        tensorBoard = try say.flatMap { say in
            // A resumed run's records start at step first + 1: what the interrupted segment logged from there goes.
            try trainer.config.tensorBoard.enabled ? TensorBoardLog(directory: out + "/tensorboard", resumedAt: resuming ? first + 1 : nil, warn: say) : nil
        }
        metrics?.tensorBoard = tensorBoard
        boundary = (.now, trainer.allreduceSeconds)
        epoch = Meter(since: boundary)
        interval = epoch
        (self.first, done) = (first, first)
    }

    /// Where the loop stood when the last step's after-work ended: where the next step's time starts.
    private var boundary: (at: ContinuousClock.Instant, allreduceSeconds: Double)

    /// The loop calls this as each step's after-work ends, so that an epoch's or an interval's time starts
    /// with its first step, not after it.
    func stepEnded() { boundary = (.now, trainer.allreduceSeconds) }

    func say(_ line: String) { sayLine?(line) }

    /// After global step `step` (0-based): the progress it makes; returns the epoch's report, with `validation`,
    /// when it ends one (or the run stops after it).
    func record(_ result: Trainer.StepResult, step: Int, validation: LossSums?) -> EpochReport? {
        let cadence = trainer.cadence, stepsPerEpoch = trainer.sampler.stepsPerEpoch
        let (epochIndex, stepInEpoch) = cadence.epoch(of: step), learningRate = trainer.learningRate(step: step)
        if stepInEpoch == 0 || step == first {
            epoch = Meter(since: boundary)
            interval = epoch
        }
        done = step + 1
        if let skipped = result.skipped { say("warning: \(skipped), \(trainer.skippedSteps) in this run") }
        epoch.add(result)
        interval.add(result)
        trainer.liveProgress?.update(epoch: epochIndex, of: cadence.epochs, step: stepInEpoch + 1, of: stepsPerEpoch,
                                     stepsTaken: epoch.steps, loss: epoch.loss, seconds: epoch.started.secondsElapsed)
        if cadence.logs(after: done) {
            let seconds = interval.started.secondsElapsed
            metrics?.recordInterval(step: done, epoch: epochIndex, loss: interval.loss, klWeight: result.klWeight, gradientNorm: result.gradientNorm,
                                    learningRate: learningRate, seconds: seconds, allreduceMilliseconds: interval.allreduceMilliseconds(now: trainer.allreduceSeconds))
            if trainer.liveProgress == nil {
                say(String(format: "  epoch %d step %d/%d  loss %.3f  images/s %.0f", epochIndex + 1, stepInEpoch + 1, stepsPerEpoch,
                           interval.loss.meanLoss, Double(interval.loss.samples) / max(seconds, 1e-9)))
            }
            interval = Meter(since: (.now, trainer.allreduceSeconds))
        }
        guard cadence.endsEpoch(done) || result.stopSignal != nil else { return nil }
        let report = EpochReport(epoch: epochIndex, steps: epoch.steps, skippedSteps: epoch.skipped, loss: epoch.loss,
                                 klWeight: result.klWeight, validation: validation, learningRate: learningRate, seconds: epoch.started.secondsElapsed,
                                 allreduceMilliseconds: trainer.communicator.size > 1 ? epoch.allreduceMilliseconds(now: trainer.allreduceSeconds) : nil,
                                 saveWaitSeconds: epoch.saveWaitSeconds)
        metrics?.record(report, step: done)
        say(report.line)
        return report
    }
}

/// Loss, steps and allreduce time since a point in the run: an epoch's or a log interval's.
private struct Meter {
    let started: ContinuousClock.Instant
    let allreduceSeconds: Double
    /// Over the steps taken; a skipped step's loss is not a number to average.
    private(set) var loss = LossSums()
    /// Steps run, skipped ones included.
    private(set) var steps = 0
    private(set) var skipped = 0
    var saveWaitSeconds = 0.0

    /// From a point in the run: when, and the trainer's allreduce time then.
    init(since point: (at: ContinuousClock.Instant, allreduceSeconds: Double)) { (started, allreduceSeconds) = point }

    mutating func add(_ step: Trainer.StepResult) {
        if step.skipped == nil { loss += step.loss } else { skipped += 1 }
        steps += 1
    }

    /// Mean allreduce time per step since the start, given the trainer's total now.
    func allreduceMilliseconds(now: Double) -> Double { steps > 0 ? (now - allreduceSeconds) * 1000 / Double(steps) : 0 }
}
