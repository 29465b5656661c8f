// BatchNorm over the channel (last) axis, Keras defaults: momentum 0.99, ε 0.001.
// Training: statistics of the batch (mean μ, biased variance σ², over the M = N·H·W rows):
//   x̂ = (x − μ) / √(σ² + ε);  y = γ·x̂ + β
//   μ and σ² are added into the store's batch-statistic slots; once per step the trainer moves the running
//   averages towards their mean over the step's batches: running ← momentum·running + (1 − momentum)·mean
//   backward: ∂γ += Σ ∂y·x̂;  ∂β += Σ ∂y;  ∂x = γ/(M·√(σ²+ε)) · (M·∂y − Σ∂y − x̂·Σ(∂y·x̂))
// Inference: the running statistics instead of the batch's.
//
// With an epilogue, the LeakyReLU and the Dropout that follow are fused in: one pass writes the block's
// output and, per element, a factor: dropout's multiplier m (0 or 1/(1 − rate); 1 without dropout),
// negated where LeakyReLU took its α branch. Backward recovers ∂y_BN = (∂out·m)·(y > 0 ? 1 : α) from it,
// and x̂ is recomputed from the kept input, so a step makes fewer passes over memory than the separate
// layers do. Every operation is the one the separate layers do, in the same order, so the
// bits are theirs (tests compare them). The loops over rows are C kernels (CKernels: batch_norm.c), which
// the CPU runs with its widest vectors.

import CKernels
import Foundation

public final class BatchNorm: Layer, CustomStringConvertible {
    /// LeakyReLU and, when `dropoutRate` is set, Dropout after the normalization, as those layers do them.
    public struct Epilogue {
        public let slope: Float
        public let dropoutRate: Float?
        /// Distinguishes this layer's dropout masks from every other dropout layer's (see Dropout).
        public let dropoutStream: UInt64

        public init(slope: Float = LeakyReLU.kerasSlope, dropoutRate: Float? = nil, dropoutStream: UInt64 = 0) {
            precondition(dropoutRate.map { $0 >= 0 && $0 < 1 } ?? true, "dropout rate \(dropoutRate!) not in [0, 1)")
            self.slope = slope
            self.dropoutRate = dropoutRate
            self.dropoutStream = dropoutStream
        }
    }

    public let channels: Int
    public let momentum: Float = 0.99
    public let epsilon: Float = 0.001
    public let epilogue: Epilogue?
    private let store: ParameterStore
    private let gamma, beta, runningMean, runningVariance, batchMean, batchVariance: ParameterSlot
    /// The input, kept for backward, which recomputes x̂ from it; the epilogue's signed factors.
    private var input: Tensor?
    private let factor, output, inputGradient: Tensor
    /// Five rows of per-channel values: μ and 1/σ (from forward, for backward too), Σ∂y, Σ∂y·x̂, γ/(M·σ).
    private let perChannel: UnsafeMutablePointer<Float>

    public init(name: String, store: ParameterStore, shape: [Int], epilogue: Epilogue? = nil) {
        channels = shape.last!
        self.epilogue = epilogue
        self.store = store
        gamma = store.declare("\(name).gamma", shape: [channels], initializer: .ones)
        beta = store.declare("\(name).beta", shape: [channels], initializer: .zeros)
        batchMean = store.declare("\(name).batch_mean", shape: [channels], buffer: .statistics)
        batchVariance = store.declare("\(name).batch_variance", shape: [channels], buffer: .statistics)
        runningMean = store.declare("\(name).moving_mean", shape: [channels], initializer: .zeros, buffer: .state,
                                    runningAverage: .init(of: batchMean, momentum: momentum))
        runningVariance = store.declare("\(name).moving_variance", shape: [channels], initializer: .ones, buffer: .state,
                                        runningAverage: .init(of: batchVariance, momentum: momentum))
        factor = Tensor(batch: 0, itemShape: shape)
        output = Tensor(batch: 0, itemShape: shape)
        inputGradient = Tensor(batch: 0, itemShape: shape)
        perChannel = .allocate(capacity: 5 * channels)
        perChannel.initialize(repeating: 0, count: 5 * channels)
    }

    deinit { perChannel.deallocate() }

    /// "BatchNorm", or with its epilogue "BatchNorm+LeakyReLU+Dropout": the layer's name in a trace.
    public var description: String {
        guard let epilogue else { return "BatchNorm" }
        return epilogue.dropoutRate == nil ? "BatchNorm+LeakyReLU" : "BatchNorm+LeakyReLU+Dropout"
    }

    public func forward(_ input: Tensor, _ context: StepContext) -> Tensor {
        self.input = input
        let rows = input.count / channels, c = channels
        output.resize(batch: input.batch)
        let x = input.pointer, y = output.pointer
        let g = store.pointer(gamma), b = store.pointer(beta)
        let rm = store.pointer(runningMean), rv = store.pointer(runningVariance)
        let (mu, inv) = (perChannel, perChannel + c)
        if context.training {
            let batchMean = store.pointer(batchMean), batchVariance = store.pointer(batchVariance)
            mu.update(repeating: 0, count: c)
            Kernels.accumulateColumnSums(x, rows: rows, columns: c, into: mu)
            for j in 0..<c { mu[j] /= Float(rows) }
            inv.update(repeating: 0, count: c)
            vae_bn_squared_deviations(x, rows, c, mu, inv)
            for j in 0..<c {
                let variance = inv[j] / Float(rows)
                batchMean[j] += mu[j]
                batchVariance[j] += variance
                inv[j] = 1 / (variance + epsilon).squareRoot()
            }
        } else {
            for j in 0..<c {
                mu[j] = rm[j]
                inv[j] = 1 / (rv[j] + epsilon).squareRoot()
            }
        }
        guard let epilogue else {
            vae_bn_normalize(x, rows, c, mu, inv, g, b, y)
            return output
        }
        factor.resize(batch: input.batch)
        let f = factor.pointer, items = input.itemCount, pixels = items / c
        guard context.training, let rate = epilogue.dropoutRate else {
            vae_bn_normalize_leaky(x, rows, c, mu, inv, g, b, epilogue.slope, 0, y, f)
            return output
        }
        precondition(context.sampleIndices.count == input.batch, "dropout needs one sample index per batch row")
        // A sample at a time, so that its dropout multipliers (512 KB at 64×64×32) are still in cache when
        // the normalization reads them back from the factors' place.
        for sample in 0..<input.batch {
            let at = sample * items
            Dropout.multipliers(rate: rate, stream: epilogue.dropoutStream, row: sample, count: items, context, into: f + at)
            vae_bn_normalize_leaky(x + at, pixels, c, mu, inv, g, b, epilogue.slope, 1, y + at, f + at)
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor {
        precondition(context.training, "BatchNorm backward needs training-mode statistics")
        let rows = outputGradient.count / channels, c = channels
        inputGradient.resize(batch: outputGradient.batch)
        let x = input!.pointer, dx = inputGradient.pointer
        let g = store.pointer(gamma), dg = store.gradient(gamma), db = store.gradient(beta)
        // The forward pass left μ and 1/σ in the first per-channel rows.
        let (mu, inv, s, sx, scale) = (perChannel, perChannel + c, perChannel + 2 * c, perChannel + 3 * c, perChannel + 4 * c)
        s.update(repeating: 0, count: c)
        sx.update(repeating: 0, count: c)
        // ∂ of the normalization's output goes into ∂input's buffer, which the last pass turns into ∂input.
        // Fused, it is the epilogue's backward (Dropout's ∂out·m, then LeakyReLU's factor, 1 or α).
        vae_bn_gradient_sums(outputGradient.pointer, epilogue == nil ? nil : UnsafePointer(factor.pointer),
                             epilogue?.slope ?? 1, dx, x, rows, c, mu, inv, s, sx)
        let m = Float(rows)
        for j in 0..<c {
            dg[j] += sx[j]
            db[j] += s[j]
            scale[j] = g[j] * inv[j] / m
        }
        vae_bn_input_gradient(dx, x, rows, c, mu, inv, scale, s, sx, m)
        return inputGradient
    }
}
