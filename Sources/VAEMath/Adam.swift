// Adam with Keras's defaults (β1 0.9, β2 0.999, ε 1e-7) over the flat parameter buffer:
//   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
//   p ← p − lr · √(1 − β2ᵗ)/(1 − β1ᵗ) · m / (√v + ε)
// Its learning rate comes from LearningRateSchedule.

import CKernels
import Foundation

public final class Adam {
    public let beta1: Float = 0.9
    public let beta2: Float = 0.999
    public let epsilon: Float = 1e-7
    public let count: Int
    /// Updates taken so far (t in the bias correction).
    public var step: Int = 0
    public let firstMoment, secondMoment: UnsafeMutableBufferPointer<Float>

    public init(parameterCount: Int) {
        count = parameterCount
        firstMoment = .allocate(capacity: parameterCount)
        secondMoment = .allocate(capacity: parameterCount)
        firstMoment.initialize(repeating: 0)
        secondMoment.initialize(repeating: 0)
    }

    deinit {
        firstMoment.deallocate()
        secondMoment.deallocate()
    }

    /// Takes `other`'s moments and step count; both optimize the same number of parameters.
    public func copyState(from other: Adam) {
        precondition(other.count == count, "copying Adam's state between different models")
        firstMoment.baseAddress!.update(from: other.firstMoment.baseAddress!, count: count)
        secondMoment.baseAddress!.update(from: other.secondMoment.baseAddress!, count: count)
        step = other.step
    }

    /// The step size of the current update, set by `advance`.
    private var alpha: Float = 0

    /// One whole update: `advance`, then `apply` over every parameter.
    public func update(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, learningRate: Float) {
        advance(learningRate: learningRate)
        apply(0..<count, parameters: parameters, gradients: gradients)
    }

    /// Starts the next update (t ← t + 1); `apply` then moves each parameter range, once, in any order.
    public func advance(learningRate: Float) {
        step += 1
        let t = Double(step)
        alpha = Float(Double(learningRate) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
    }

    public func apply(_ range: Range<Int>, parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) outside 0..<\(count)")
        let i = range.lowerBound
        vae_adam_apply(parameters + i, firstMoment.baseAddress! + i, secondMoment.baseAddress! + i, gradients + i,
                       range.count, beta1, beta2, epsilon, alpha)
    }
}
