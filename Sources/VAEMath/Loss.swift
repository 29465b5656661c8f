// The VAE loss of GDL_code, per image, with the KL term weighted (β, and its warm-up; 1 in the book):
//   reconstruction = r_loss_factor · mean over H·W·C of (x − y)²
//   KL             = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j)
//   loss           = reconstruction + weight · KL
// The batch loss is the mean over the *global* batch: each gradient below is scaled by 1/globalBatch,
// so per-rank gradients of disjoint shards sum (allreduce) to exactly the global mean gradient.

import Foundation

/// Sums over the samples seen, so partial results add (across steps or ranks) before dividing by `samples`.
public struct LossSums: Sendable, Equatable {
    public var reconstruction: Double = 0
    /// The KL term as it is, and weighted as the loss took it (the same unless β or a warm-up weighs it).
    public var kl: Double = 0, weightedKL: Double = 0
    public var samples: Int = 0

    /// `weightedKL` defaults to `kl`: the book's weight of 1.
    public init(reconstruction: Double = 0, kl: Double = 0, weightedKL: Double? = nil, samples: Int = 0) {
        self.reconstruction = reconstruction
        self.kl = kl
        self.weightedKL = weightedKL ?? kl
        self.samples = samples
    }

    /// These sums with the KL term weighted by `weight`.
    public func weighting(kl weight: Float) -> LossSums {
        LossSums(reconstruction: reconstruction, kl: kl, weightedKL: Double(weight) * kl, samples: samples)
    }

    public var meanReconstruction: Double { samples > 0 ? reconstruction / Double(samples) : 0 }
    public var meanKL: Double { samples > 0 ? kl / Double(samples) : 0 }
    /// The loss the weights were trained on: reconstruction plus the weighted KL term.
    public var meanLoss: Double { meanReconstruction + (samples > 0 ? weightedKL / Double(samples) : 0) }

    public static func += (lhs: inout LossSums, rhs: LossSums) {
        lhs.reconstruction += rhs.reconstruction
        lhs.kl += rhs.kl
        lhs.weightedKL += rhs.weightedKL
        lhs.samples += rhs.samples
    }
}

public enum VAELoss {
    /// Σ over images of the reconstruction term; writes ∂(Σ loss / globalBatch)/∂y into `gradient`.
    public static func reconstruction(target: Tensor, output: Tensor, factor: Float, globalBatch: Int, gradient: Tensor) -> Double {
        precondition(target.count == output.count, "reconstruction of \(output.shape) against \(target.shape)")
        gradient.resize(batch: output.batch)
        let x = target.pointer, y = output.pointer, dy = gradient.pointer
        let pixels = output.itemCount
        let scale = factor / Float(pixels)
        let gradientScale = 2 * scale / Float(globalBatch)
        var total = 0.0
        for n in 0..<output.batch {
            var squares: Float = 0
            for p in 0..<pixels {
                let i = n * pixels + p
                let d = y[i] - x[i]
                squares += d * d
                dy[i] = gradientScale * d
            }
            total += Double(scale * squares)
        }
        return total
    }

    /// Σ over images of the KL term (unweighted); *adds* its gradient, scaled by weight/globalBatch, into ∂μ and ∂log σ².
    public static func klDivergence(mean: Tensor, logVariance: Tensor, globalBatch: Int, weight: Float = 1,
                                    meanGradient: Tensor, logVarianceGradient: Tensor) -> Double {
        let mu = mean.pointer, lv = logVariance.pointer
        let dmu = meanGradient.pointer, dlv = logVarianceGradient.pointer
        let scale = weight / Float(globalBatch)  // weight 1: exactly 1/globalBatch, the book's bits
        var total = 0.0
        for i in 0..<mean.count {
            let variance = expf(lv[i])
            total += Double(-0.5 * (1 + lv[i] - mu[i] * mu[i] - variance))
            dmu[i] += scale * mu[i]
            dlv[i] += scale * -0.5 * (1 - variance)
        }
        return total
    }
}
