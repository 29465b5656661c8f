// Saves: a rank's two SnapshotWriters, checkpoints and pictures, and when the cadence hands each a save. Rank 0
// writes checkpoints into output.dir and draws pictures (when the trainer was handed what draws them); with
// checkpoint.replicas, the first rank of each next node writes the same checkpoints into its node-local
// checkpoint.replica_dir (every rank holds the same bits). With checkpoint.keep_best, which checkpoint is the
// best by validation loss; with a TensorBoard log, each sample picture goes into it too.

import VAECheckpoint
import VAEMath
import VAESupport

final class Saves {
    /// A checkpoint to write, and whether it is the run's best so far.
    struct CheckpointJob: Sendable {
        let state: CheckpointState
        let best: Bool
    }

    private let checkpoints: SnapshotWriter<CheckpointJob>
    /// Drawing after an epoch (its number), at a step.
    private let pictures: SnapshotWriter<(epoch: Int, step: Int)>?
    private unowned let trainer: Trainer
    /// The lowest validation loss of the run so far, resumed runs included.
    private var bestValidationLoss: Double?

    /// Checkpoints go into `directory`/checkpoints; pictures only when `drawsPictures`.
    init(trainer: Trainer, into directory: String, drawsPictures: Bool, bestValidationLoss: Double?, tensorBoard: TensorBoardLog?) throws {
        self.trainer = trainer
        self.bestValidationLoss = bestValidationLoss
        let config = trainer.config, backend = config.training.convBackend, timeline = trainer.trace?.timeline
        checkpoints = try SnapshotWriter(model: trainer.model, average: trainer.average, copies: .everything, convolutionBackend: backend,
                                         timeline: timeline, row: .checkpoint) { shadow, optimizer, average in
            { job, say, progress in
                progress("the checkpoint of step \(job.state.step)")
                let path = try Checkpoint.write(runDirectory: directory, model: shadow, optimizer: optimizer!, average: average,
                                                state: job.state, keep: config.checkpoint.keep)
                say("checkpoint " + path)
                if job.best, let loss = job.state.validationLoss {
                    say("best " + (try Checkpoint.keepAsBest(path)) + String(format: " (validation loss %.3f)", loss))
                }
            }
        }
        pictures = try (drawsPictures ? trainer.pictures : nil).map { makePictures in
            try SnapshotWriter(model: trainer.model, average: trainer.average, copies: .shownWeights, convolutionBackend: backend,
                               timeline: timeline, row: .samples) { shadow, _, _ in
                let draw = try makePictures(shadow)
                return { job, say, progress in
                    let started = ContinuousClock.now
                    if let directory = try draw(job.epoch, say, { progress("\($0) after epoch \(job.epoch)") }) {
                        say("samples \(directory) (" + String(format: "%.2f s)", started.secondsElapsed))
                        tensorBoard?.pictures(in: directory, step: job.step)
                    }
                }
            }
        }
    }

    /// The oldest piece of work in flight, if any: what the watchdog watches.
    var activity: @Sendable () -> BackgroundWork? {
        { [checkpoints, pictures] in [checkpoints.activity, pictures?.activity].compactMap { $0 }.min { $0.since < $1.since } }
    }

    /// Hands each writer its save after `done` steps, if one is due (a checkpoint always when `stopping`, or
    /// when `validation` is the best yet and checkpoint.keep_best asks for it); returns the seconds spent
    /// waiting for saves still in flight.
    func save(after done: Int, stopping: Bool, validation: LossSums?) throws -> Double {
        let cadence = trainer.cadence
        var state = trainer.checkpointState(after: done), best = false
        if let validation {
            state.validationLoss = validation.meanLoss
            if trainer.config.checkpoint.keepBest && validation.meanLoss < bestValidationLoss ?? .infinity {
                bestValidationLoss = validation.meanLoss
                best = true
            }
        }
        state.bestValidationLoss = bestValidationLoss
        var waited = Duration.zero
        let (model, optimizer, average) = (trainer.model, trainer.optimizer, trainer.average)
        if cadence.checkpoints(after: done) || stopping || best {
            waited += try checkpoints.save(CheckpointJob(state: state, best: best), model: model, optimizer: optimizer, average: average)
        }
        if let pictures, cadence.samples(after: done) {
            waited += try pictures.save((done / cadence.stepsPerEpoch, done), model: model, optimizer: optimizer, average: average)
        }
        return waited.seconds
    }

    /// What the writers said since the last call; throws a failed save.
    func collect() throws -> [String] { try checkpoints.collect() + (pictures?.collect() ?? []) }

    /// Waits for both writers; throws a failed save.
    func finish() throws -> [String] { try checkpoints.finish() + (pictures?.finish() ?? []) }

    /// After an error: waits for both writers, and says what they wrote, but not how they failed.
    func finishQuietly() -> [String] { ((try? checkpoints.finish()) ?? []) + ((try? pictures?.finish()) ?? []) }
}
