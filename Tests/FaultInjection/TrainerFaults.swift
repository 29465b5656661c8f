// Faults inside a rank's training step, on cue: a NaN in its gradients, or a nudge to its weights that
// leaves it out of step with the other ranks without any error.

import VAETraining

/// Which rank, at which call or step.
struct Cue: Sendable {
    let rank: Int
    let at: Int
}

struct TrainerFaults: Sendable {
    /// The gradient of the first weight is NaN in this rank's step (1-based).
    let nanAt: Cue?
    /// The first weight moves by 0.01 before this rank's step (1-based).
    let perturbAt: Cue?

    func install(on trainer: Trainer) {
        let rank = trainer.communicator.rank, p = trainer.model.parameters
        // Before the step's first micro-batch: its backward pass adds into the gradient, which stays NaN.
        trainer.beforeMicroBatch = { step, microBatch in
            guard microBatch == 0 else { return }
            if let nanAt, nanAt.rank == rank, nanAt.at == step + 1 { p.gradients[0] = .nan }
            if let perturbAt, perturbAt.rank == rank, perturbAt.at == step + 1 { p.values[0] += 0.01 }
        }
    }
}
