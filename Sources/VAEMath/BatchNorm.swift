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
// bits are theirs (tests compare them).

import Foundation

public final class BatchNorm: Layer, CustomStringConvertible {
    /// LeakyReLU and, when `dropoutRate` is set, Dropout after the normalization, as those layers do them.
    public struct Epilogue {
        public var slope: Float = LeakyReLU.kerasSlope
        public var dropoutRate: Float?
        /// Distinguishes this layer's dropout masks from every other dropout layer's (see Dropout).
        public var dropoutStream: UInt64 = 0

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
    private let lanes: ChannelLanes
    /// Per channel, as `lanes` vectors: μ, 1/σ, γ, β (forward), Σ∂y, Σ∂y·x̂, γ/(M·σ) (backward).
    private let vectors: UnsafeMutablePointer<Lanes>

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
        lanes = ChannelLanes(channels: channels)
        vectors = .allocate(capacity: 7 * lanes.chunks)
        vectors.initialize(repeating: .zero, count: 7 * lanes.chunks)
    }

    deinit { vectors.deallocate() }

    /// "BatchNorm", or with its epilogue "BatchNorm+LeakyReLU+Dropout": the layer's name in a trace.
    public var description: String {
        guard let epilogue else { return "BatchNorm" }
        return epilogue.dropoutRate == nil ? "BatchNorm+LeakyReLU" : "BatchNorm+LeakyReLU+Dropout"
    }

    public func forward(_ input: Tensor, _ context: StepContext) -> Tensor {
        self.input = input
        let rows = input.count / channels, c = channels, chunks = lanes.chunks
        output.resize(batch: input.batch)
        let x = input.pointer, y = output.pointer
        let g = store.pointer(gamma), b = store.pointer(beta)
        let rm = store.pointer(runningMean), rv = store.pointer(runningVariance)
        let (mu, inv, gv, bv) = (vectors, vectors + chunks, vectors + 2 * chunks, vectors + 3 * chunks)
        if context.training {
            let batchMean = store.pointer(batchMean), batchVariance = store.pointer(batchVariance)
            mu.update(repeating: .zero, count: chunks)
            for r in 0..<rows { for k in 0..<chunks { mu[k] += lanes.load(x + r * c, k) } }
            for k in 0..<chunks { mu[k] /= Float(rows) }
            inv.update(repeating: .zero, count: chunks)
            for r in 0..<rows { for k in 0..<chunks { let d = lanes.load(x + r * c, k) - mu[k]; inv[k] += d * d } }
            for k in 0..<chunks {
                let variance = inv[k] / Float(rows)
                lanes.add(mu[k], to: batchMean, k)
                lanes.add(variance, to: batchVariance, k)
                inv[k] = 1 / (variance + epsilon).squareRoot()
            }
        } else {
            for k in 0..<chunks {
                mu[k] = lanes.load(rm, k)
                inv[k] = 1 / (lanes.load(rv, k) + epsilon).squareRoot()
            }
        }
        for k in 0..<chunks { gv[k] = lanes.load(g, k); bv[k] = lanes.load(b, k) }
        guard let epilogue else {
            for r in 0..<rows {
                for k in 0..<chunks {
                    let xhat = (lanes.load(x + r * c, k) - mu[k]) * inv[k]
                    lanes.store(gv[k] * xhat + bv[k], to: y + r * c, k)
                }
            }
            return output
        }
        factor.resize(batch: input.batch)
        let f = factor.pointer, slope = epilogue.slope, items = input.itemCount, pixels = items / c
        let rate = context.training ? epilogue.dropoutRate : nil, keep = 1 / (1 - (rate ?? 0))
        if rate != nil {
            precondition(context.sampleIndices.count == input.batch, "dropout needs one sample index per batch row")
        }
        for sample in 0..<input.batch {
            // The sample's dropout multipliers go into the factors' place first (512 KB at 64×64×32: they
            // stay in cache), and come back a vector at a time.
            if let rate {
                let prefix = CounterRandom.prefix(seed: context.seed, purpose: .dropout, UInt64(context.epoch),
                                                  UInt64(context.sampleIndices[context.sampleIndices.startIndex + sample]))
                CounterRandom.dropoutFactors(prefix: prefix, stream: epilogue.dropoutStream, count: items, rate: rate, keep: keep,
                                             into: f + sample * items)
            }
            for p in 0..<pixels {
                let row = sample * items + p * c
                for k in 0..<chunks {
                    let xhat = (lanes.load(x + row, k) - mu[k]) * inv[k]
                    let z = gv[k] * xhat + bv[k], positive = z .> 0, a = (slope * z).replacing(with: z, where: positive)
                    var m = Lanes(repeating: 1)
                    if rate != nil {
                        m = lanes.load(f + row, k)
                        lanes.store(a * m, to: y + row, k)
                    } else {
                        lanes.store(a, to: y + row, k)
                    }
                    lanes.store((-m).replacing(with: m, where: positive), to: f + row, k)
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor {
        precondition(context.training, "BatchNorm backward needs training-mode statistics")
        let rows = outputGradient.count / channels, c = channels, chunks = lanes.chunks
        inputGradient.resize(batch: outputGradient.batch)
        let x = input!.pointer, dx = inputGradient.pointer
        let dg = store.gradient(gamma), db = store.gradient(beta)
        // ∂ of the normalization's output. Fused, the epilogue's backward (Dropout's ∂out·m, then LeakyReLU's
        // factor, 1 or α) goes into ∂input's buffer first, which the last pass overwrites element by element.
        var dy = UnsafePointer(outputGradient.pointer)
        if let epilogue {
            let f = factor.pointer, slope = epilogue.slope
            for i in 0..<outputGradient.count {
                let leak: Float = f[i].sign == .minus ? slope : 1
                dx[i] = dy[i] * abs(f[i]) * leak
            }
            dy = UnsafePointer(dx)
        }
        // The forward pass left μ, 1/σ and γ in the first vectors.
        let (mu, inv, gv) = (vectors, vectors + chunks, vectors + 2 * chunks)
        let (s, sx, scale) = (vectors + 4 * chunks, vectors + 5 * chunks, vectors + 6 * chunks)
        s.update(repeating: .zero, count: chunks)
        sx.update(repeating: .zero, count: chunks)
        for r in 0..<rows {
            for k in 0..<chunks {
                let dyk = lanes.load(dy + r * c, k), xhat = (lanes.load(x + r * c, k) - mu[k]) * inv[k]
                s[k] += dyk
                sx[k] += dyk * xhat
            }
        }
        let m = Float(rows)
        for k in 0..<chunks {
            lanes.add(sx[k], to: dg, k)
            lanes.add(s[k], to: db, k)
            scale[k] = gv[k] * inv[k] / m
        }
        for r in 0..<rows {
            for k in 0..<chunks {
                let dyk = lanes.load(dy + r * c, k), xhat = (lanes.load(x + r * c, k) - mu[k]) * inv[k]
                lanes.store(scale[k] * (m * dyk - s[k] - xhat * sx[k]), to: dx + r * c, k)
            }
        }
        return inputGradient
    }
}

typealias Lanes = SIMD16<Float>

/// A row of `channels` Floats as vectors of 16: vector k holds channels 16k..<16k+16, the last one fewer when
/// the channels are no multiple of 16 (its spare lanes hold 0 and are never stored). A loop over rows that
/// adds vector k into a sum adds each channel in row order, as a loop over single channels would: the same
/// bits, sixteen channels at a time.
struct ChannelLanes {
    let channels: Int
    var chunks: Int { (channels + 15) / 16 }

    @inline(__always) func count(_ k: Int) -> Int { min(16, channels - 16 * k) }

    @inline(__always) func load(_ row: UnsafePointer<Float>, _ k: Int) -> Lanes {
        let p = row + 16 * k, n = count(k)
        if n == 16 { return UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }
        var v = Lanes()
        for l in 0..<n { v[l] = p[l] }
        return v
    }

    @inline(__always) func store(_ v: Lanes, to row: UnsafeMutablePointer<Float>, _ k: Int) {
        let p = row + 16 * k, n = count(k)
        if n == 16 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self); return }
        for l in 0..<n { p[l] = v[l] }
    }

    @inline(__always) func add(_ v: Lanes, to row: UnsafeMutablePointer<Float>, _ k: Int) {
        store(load(row, k) + v, to: row, k)
    }
}
