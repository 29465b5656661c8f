// Faults inside a rank's training step, on cue: a NaN in its gradients.

import VAETraining

/// Which rank, at which call or step.
struct Cue: Sendable {
    let rank: Int
    let at: Int
}

struct TrainerFaults: Sendable {
    /// The gradient of the first weight is NaN in this rank's step (1-based).
    let nanAt: Cue?

    func install(on trainer: Trainer) {
        let rank = trainer.communicator.rank, p = trainer.model.parameters
        // Before the step's first micro-batch: its backward pass adds into the gradient, which stays NaN.
        trainer.beforeMicroBatch = { step, microBatch in
            guard microBatch == 0 else { return }
            if let nanAt, nanAt.rank == rank, nanAt.at == step + 1 { p.gradients[0] = .nan }
        }
    }
}
