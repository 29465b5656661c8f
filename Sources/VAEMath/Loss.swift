// The VAE loss of GDL_code, per image:
//   reconstruction = r_loss_factor · mean over H·W·C of (x − y)²
//   KL             = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j)
// The batch loss is the mean over the *global* batch: each gradient below is scaled by 1/globalBatch,
// so per-rank gradients of disjoint shards sum (allreduce) to exactly the global mean gradient.

import Foundation

/// Sums over the samples seen, so partial results add (across steps or ranks) before dividing by `samples`.
public struct LossSums: Sendable, Equatable {
    public var reconstruction: Double = 0
    public var kl: Double = 0
    public var samples: Int = 0

    public init(reconstruction: Double = 0, kl: Double = 0, samples: Int = 0) {
        self.reconstruction = reconstruction
        self.kl = kl
        self.samples = samples
    }

    public var meanReconstruction: Double { samples > 0 ? reconstruction / Double(samples) : 0 }
    public var meanKL: Double { samples > 0 ? kl / Double(samples) : 0 }
    public var meanLoss: Double { meanReconstruction + meanKL }

    public static func += (lhs: inout LossSums, rhs: LossSums) {
        lhs.reconstruction += rhs.reconstruction
        lhs.kl += rhs.kl
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

    /// Σ over images of the KL term; *adds* its gradient (scaled by 1/globalBatch) into ∂μ and ∂log σ².
    public static func klDivergence(mean: Tensor, logVariance: Tensor, globalBatch: Int,
                                    meanGradient: Tensor, logVarianceGradient: Tensor) -> Double {
        let mu = mean.pointer, lv = logVariance.pointer
        let dmu = meanGradient.pointer, dlv = logVarianceGradient.pointer
        let scale = 1 / Float(globalBatch)
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
