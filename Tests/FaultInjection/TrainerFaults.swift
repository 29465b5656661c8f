// Faults inside a rank's training step, on cue: a NaN in its gradients, a nudge to its weights that leaves it
// out of step with the other ranks without any error, a hang in its compute, or a signal; and rank 0's
// pictures made slow, as a big model's on a slow disk are; and every step made slow.

import Foundation
import TestSupport
import VAETraining

/// Which rank, at which call or step.
struct Cue: Sendable {
    let rank: Int
    let at: Int
}

/// RANK:STEP:SIGNAL[:MS]: a signal this rank sends itself, MS milliseconds into a step (1-based).
struct SignalCue: Sendable {
    let cue: Cue
    let signal: Int32
    let delayMilliseconds: Int

    init?(_ text: String) {
        let fields = text.split(separator: ":").map(String.init)
        let signals = ["KILL": SIGKILL, "TERM": SIGTERM, "STOP": SIGSTOP]
        guard fields.count == 3 || fields.count == 4, let rank = Int(fields[0]), let step = Int(fields[1]),
              let signal = signals[fields[2]], let delay = fields.count == 4 ? Int(fields[3]) : 0, delay >= 0 else { return nil }
        cue = Cue(rank: rank, at: step)
        self.signal = signal
        delayMilliseconds = delay
    }
}

struct TrainerFaults: Sendable {
    /// The gradient of the first weight is NaN in this rank's step (1-based).
    let nanAt: Cue?
    /// The first weight moves by 0.01 before this rank's step (1-based).
    let perturbAt: Cue?
    /// This rank never finishes the step's first micro-batch.
    let stallAt: Cue?
    let signalAt: SignalCue?
    /// Rank 0's pictures take this many seconds longer to write, each time.
    let slowPictures: Double?
    /// Every step takes this many seconds longer on every rank: a run that lasts as long on any CPU.
    let slowSteps: Double?

    func install(on trainer: Trainer) {
        let config = trainer.config, microBatches = config.training.batchSize / trainer.communicator.size / config.training.microBatch
        if let seconds = slowPictures, let makePictures = trainer.pictures {
            trainer.pictures = { model in
                let draw = try makePictures(model)
                return { epoch, warn, progress in
                    Thread.sleep(forTimeInterval: seconds)
                    return try draw(epoch, warn, progress)
                }
            }
        }
        let rank = trainer.communicator.rank, p = trainer.model.parameters
        func due(_ cue: Cue?, _ step: Int) -> Bool { cue.map { $0.rank == rank && $0.at == step + 1 } ?? false }
        // Before the step's first micro-batch: its backward pass adds into the gradient, which stays NaN.
        trainer.images = CuedImages(wrapping: trainer.images, microBatchesPerStep: microBatches) { step, microBatch in
            guard microBatch == 0 else { return }
            if let slowSteps { Thread.sleep(forTimeInterval: slowSteps) }
            if due(nanAt, step) { p.gradients[0] = .nan }
            if due(perturbAt, step) { p.values[0] += 0.01 }
            if let signalAt, due(signalAt.cue, step) {
                let signal = signalAt.signal
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(signalAt.delayMilliseconds)) {
                    // When, for the kill test's count of how long the job took to end.
                    FileHandle.standardError.write(Data("fault: rank \(rank) sends itself signal \(signal) at \(Date().timeIntervalSince1970)\n".utf8))
                    kill(getpid(), signal)
                }
            }
            while due(stallAt, step) { sleep(60) }
        }
    }
}
