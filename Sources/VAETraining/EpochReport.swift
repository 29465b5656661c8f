// EpochReport: what one epoch did, and the line rank 0 prints for it.

import Foundation
import VAEMath

public struct EpochReport: Sendable {
    public let epoch: Int
    /// Steps run in this run (fewer than the epoch's when resumed mid-epoch or stopped), skipped ones included.
    public let steps: Int
    /// Steps dropped (non-finite, or their gradient's norm above training.skip_grad_norm).
    public let skippedSteps: Int
    /// Summed over every rank's samples, over the steps taken.
    public let loss: LossSums
    /// The KL term's weight at the epoch's last step.
    public let klWeight: Float
    /// The validation set's sums, when the epoch validated.
    public let validation: LossSums?
    public let learningRate: Float
    public let seconds: Double
    /// Mean time per step in the gradient allreduce; nil for a single process.
    public let allreduceMilliseconds: Double?
    /// Rank 0's waits for its writer to finish the last save before it could take the next (SnapshotWriter).
    public let saveWaitSeconds: Double

    public var imagesPerSecond: Double { Double(loss.samples) / max(seconds, 1e-9) }

    public var line: String {
        var line = String(format: "epoch %d  loss %.3f  reconstruction %.3f  kl %.3f  lr %g  images/s %.0f  time %.1f s",
                          epoch + 1, loss.meanLoss, loss.meanReconstruction, loss.meanKL, learningRate, imagesPerSecond, seconds)
        if let allreduceMilliseconds { line += String(format: "  allreduce %.3f ms/step", allreduceMilliseconds) }
        if klWeight != 1 { line += String(format: "  kl weight %g", klWeight) }
        if let validation {
            line += String(format: "  validation loss %.3f (reconstruction %.3f, kl %.3f)", validation.meanLoss, validation.meanReconstruction, validation.meanKL)
        }
        if skippedSteps > 0 { line += "  skipped \(skippedSteps)" }
        if saveWaitSeconds >= 0.01 { line += String(format: "  waited %.2f s for the last save", saveWaitSeconds) }
        return line
    }
}
