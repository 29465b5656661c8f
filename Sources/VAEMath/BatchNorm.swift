// BatchNorm over the channel (last) axis, Keras defaults: momentum 0.99, ε 0.001.
// Training: statistics of the batch (mean μ, biased variance σ², over the M = N·H·W rows):
//   x̂ = (x − μ) / √(σ² + ε);  y = γ·x̂ + β
//   μ and σ² are added into the store's batch-statistic slots; once per step the trainer moves the running
//   averages towards their mean over the step's batches: running ← momentum·running + (1 − momentum)·mean
//   backward: ∂γ += Σ ∂y·x̂;  ∂β += Σ ∂y;  ∂x = γ/(M·√(σ²+ε)) · (M·∂y − Σ∂y − x̂·Σ(∂y·x̂))
// Inference: the running statistics instead of the batch's.

import Foundation

public final class BatchNorm: Layer {
    public let channels: Int
    public let momentum: Float = 0.99
    public let epsilon: Float = 0.001
    private let store: ParameterStore
    private let gamma, beta, runningMean, runningVariance, batchMean, batchVariance: ParameterSlot
    private let normalized, output, inputGradient: Tensor
    private var mean, inverseStd, sumGradient, sumGradientNormalized: [Float]

    public init(name: String, store: ParameterStore, shape: [Int]) {
        channels = shape.last!
        self.store = store
        gamma = store.declare("\(name).gamma", shape: [channels], initializer: .ones)
        beta = store.declare("\(name).beta", shape: [channels], initializer: .zeros)
        batchMean = store.declare("\(name).batch_mean", shape: [channels], buffer: .statistics)
        batchVariance = store.declare("\(name).batch_variance", shape: [channels], buffer: .statistics)
        runningMean = store.declare("\(name).moving_mean", shape: [channels], initializer: .zeros, buffer: .state,
                                    runningAverage: .init(of: batchMean, momentum: momentum))
        runningVariance = store.declare("\(name).moving_variance", shape: [channels], initializer: .ones, buffer: .state,
                                        runningAverage: .init(of: batchVariance, momentum: momentum))
        normalized = Tensor(batch: 0, itemShape: shape)
        output = Tensor(batch: 0, itemShape: shape)
        inputGradient = Tensor(batch: 0, itemShape: shape)
        mean = Array(repeating: 0, count: channels)
        inverseStd = mean; sumGradient = mean; sumGradientNormalized = mean
    }

    public func forward(_ input: Tensor, _ context: StepContext) -> Tensor {
        let rows = input.count / channels, c = channels
        normalized.resize(batch: input.batch)
        output.resize(batch: input.batch)
        let x = input.pointer, xhat = normalized.pointer, y = output.pointer
        let g = store.pointer(gamma), b = store.pointer(beta)
        let rm = store.pointer(runningMean), rv = store.pointer(runningVariance)
        if context.training {
            let batchMean = store.pointer(batchMean), batchVariance = store.pointer(batchVariance)
            mean.withUnsafeMutableBufferPointer { mu in
                inverseStd.withUnsafeMutableBufferPointer { inv in
                    mu.update(repeating: 0)
                    inv.update(repeating: 0)
                    for r in 0..<rows { for j in 0..<c { mu[j] += x[r * c + j] } }
                    for j in 0..<c { mu[j] /= Float(rows) }
                    for r in 0..<rows { for j in 0..<c { let d = x[r * c + j] - mu[j]; inv[j] += d * d } }
                    for j in 0..<c {
                        let variance = inv[j] / Float(rows)
                        batchMean[j] += mu[j]
                        batchVariance[j] += variance
                        inv[j] = 1 / (variance + epsilon).squareRoot()
                    }
                }
            }
        } else {
            for j in 0..<c {
                mean[j] = rm[j]
                inverseStd[j] = 1 / (rv[j] + epsilon).squareRoot()
            }
        }
        mean.withUnsafeBufferPointer { mu in
            inverseStd.withUnsafeBufferPointer { inv in
                for r in 0..<rows {
                    for j in 0..<c {
                        let i = r * c + j
                        xhat[i] = (x[i] - mu[j]) * inv[j]
                        y[i] = g[j] * xhat[i] + b[j]
                    }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor {
        precondition(context.training, "BatchNorm backward needs training-mode statistics")
        let rows = outputGradient.count / channels, c = channels
        inputGradient.resize(batch: outputGradient.batch)
        let dy = outputGradient.pointer, xhat = normalized.pointer, dx = inputGradient.pointer
        let g = store.pointer(gamma)
        let dg = store.gradient(gamma), db = store.gradient(beta)
        sumGradient.withUnsafeMutableBufferPointer { s in
            sumGradientNormalized.withUnsafeMutableBufferPointer { sx in
                inverseStd.withUnsafeBufferPointer { inv in
                    s.update(repeating: 0)
                    sx.update(repeating: 0)
                    for r in 0..<rows {
                        for j in 0..<c {
                            s[j] += dy[r * c + j]
                            sx[j] += dy[r * c + j] * xhat[r * c + j]
                        }
                    }
                    let m = Float(rows)
                    for j in 0..<c { dg[j] += sx[j]; db[j] += s[j] }
                    for r in 0..<rows {
                        for j in 0..<c {
                            let i = r * c + j
                            dx[i] = g[j] * inv[j] / m * (m * dy[i] - s[j] - xhat[i] * sx[j])
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}
