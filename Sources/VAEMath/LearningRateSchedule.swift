// LearningRateSchedule: the learning rate of every step, GDL_code's step decay after a linear warm-up
// (Goyal et al. 2017). The config's learning_rate section sets it.

import Foundation

/// The learning rate of global step `step` (0-based) in epoch `epoch` (0-based):
///
///     lr(step) = base · decay^⌊epoch / decayEveryEpochs⌋ · min(1, (step + 1) / warmupSteps)
///
/// GDL_code's step decay, times a linear warm-up (Goyal et al. 2017): the first step takes
/// base / warmupSteps, each step adds as much, and step warmupSteps − 1 onwards take the decayed rate itself.
/// `warmupSteps` 0 (or 1) is no warm-up: every step takes exactly the step-decay rate, bit for bit. A pure
/// function of the step, so a resumed run takes the same rates as one never stopped.
public struct LearningRateSchedule: Sendable, Equatable {
    public var base: Float
    public var decayFactor: Float
    public var decayEveryEpochs: Int
    public var warmupSteps: Int

    public init(base: Float, decayFactor: Float = 1, decayEveryEpochs: Int = 1, warmupSteps: Int = 0) {
        self.base = base
        self.decayFactor = decayFactor
        self.decayEveryEpochs = decayEveryEpochs
        self.warmupSteps = warmupSteps
    }

    /// The step-decay rate of `epoch`, without the warm-up.
    public func learningRate(epoch: Int) -> Float {
        base * Float(pow(Double(decayFactor), Double(epoch / decayEveryEpochs)))
    }

    /// The rate global step `step` of `epoch` takes: the warm-up's fraction of `learningRate(epoch:)`.
    public func learningRate(step: Int, epoch: Int) -> Float {
        let rate = learningRate(epoch: epoch)
        guard step + 1 < warmupSteps else { return rate }
        return rate * Float(step + 1) / Float(warmupSteps)
    }
}
