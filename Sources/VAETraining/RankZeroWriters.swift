// RankZeroWriters: rank 0's two SnapshotWriters, checkpoints and pictures (when the trainer was handed what
// draws them), and when the cadence hands each a save.

import VAECheckpoint
import VAESupport

final class RankZeroWriters {
    private let checkpoints: SnapshotWriter<CheckpointState>
    private let pictures: SnapshotWriter<Int>?
    private unowned let trainer: Trainer

    init(trainer: Trainer) throws {
        self.trainer = trainer
        let config = trainer.config, backend = config.training.convBackend
        checkpoints = try SnapshotWriter(model: trainer.model, convolutionBackend: backend, keepsOptimizer: true, timeline: trainer.trace?.timeline,
                                         row: .checkpoint) { shadow, optimizer in
            { state, say, progress in
                progress("the checkpoint of step \(state.step)")
                say("checkpoint " + (try Checkpoint.write(runDirectory: config.output.directory, model: shadow, optimizer: optimizer!,
                                                          state: state, keep: config.checkpoint.keep)))
            }
        }
        pictures = try trainer.pictures.map { makePictures in
            try SnapshotWriter(model: trainer.model, convolutionBackend: backend, keepsOptimizer: false, timeline: trainer.trace?.timeline,
                               row: .samples) { shadow, _ in
                let draw = try makePictures(shadow)
                return { epoch, say, progress in
                    let started = ContinuousClock.now
                    if let directory = try draw(epoch, say, { progress("\($0) after epoch \(epoch)") }) {
                        say("samples \(directory) (" + String(format: "%.2f s)", started.secondsElapsed))
                    }
                }
            }
        }
    }

    /// The oldest piece of work in flight, if any: what the watchdog watches.
    var activity: @Sendable () -> BackgroundWork? {
        { [checkpoints, pictures] in [checkpoints.activity, pictures?.activity].compactMap { $0 }.min { $0.since < $1.since } }
    }

    /// Hands each writer its save after `done` steps, if one is due (a checkpoint always when `stopping`);
    /// returns the seconds spent waiting for saves still in flight.
    func save(after done: Int, stopping: Bool) throws -> Double {
        let cadence = trainer.cadence
        var waited = Duration.zero
        if cadence.checkpoints(after: done) || stopping {
            waited += try checkpoints.save(trainer.checkpointState(after: done), model: trainer.model, optimizer: trainer.optimizer)
        }
        if let pictures, cadence.samples(after: done) {
            waited += try pictures.save(done / cadence.stepsPerEpoch, model: trainer.model, optimizer: trainer.optimizer)
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
