// Evaluation: the VAE loss over a whole image file, and optionally an importance-weighted estimate of each
// image's log-likelihood (Burda, Grosse & Salakhutdinov 2016), averaged over the file:
//   log p(x) ≈ log (1/K) Σ_k p(x | z_k) p(z_k) / q(z_k | x),   z_k ~ q(z | x) = N(μ(x), diag σ²(x))
// The likelihood is the Gaussian decoder the loss implies: r_loss_factor · mean((x − y)²) is −log N(x; y, s²·I)
// up to a constant when s² = D / (2 · r_loss_factor), D = height · width · channels (0.392 for the book's run):
//   log p(x | z) = −r_loss_factor · mean((x − y)²) − (D/2) · log(2π s²)
// a density over pixel values scaled to [0, 1], in nats. With K = 1 the estimate's expectation is the ELBO,
// −loss − (D/2) · log(2π s²); it rises towards log p(x) as K grows.

import Foundation
import VAEData
import VAEMath

public enum Evaluation {
    public struct Result: Sendable {
        public let loss: LossSums
        /// The mean importance-weighted log-likelihood in nats per image; nil when not asked for.
        public let logLikelihood: Double?
    }

    /// Evaluates every image of `data`; `importanceSamples` K > 0 adds the log-likelihood estimate. Every draw of
    /// z is a pure function of (seed, image index, k), as in training; the loss uses one draw per image (k = 0).
    public static func run(_ inference: Inference, data: ImageDataset, rLossFactor: Double, seed: UInt64,
                           importanceSamples: Int = 0) -> Result {
        let model = inference.model, zDim = inference.zDim
        let pixels = data.height * data.width * data.channels
        let variance = Double(pixels) / (2 * rLossFactor)
        let normalizer = Double(pixels) / 2 * log(2 * Double.pi * variance)
        var loss = LossSums(), logLikelihood = 0.0
        inference.forEachBatch(of: data, Array(0..<data.count)) { images, indices in
            let context = StepContext(training: false, seed: seed, epoch: 0, sampleIndices: indices)
            loss += model.evaluate(images, context, rLossFactor: Float(rLossFactor))
            guard importanceSamples > 0 else { return }
            let (mu, logVar) = model.encode(images, context)
            let means = mu.array, logVariances = logVar.array
            var logWeights = [[Double]](repeating: [], count: indices.count)
            for k in 0..<importanceSamples {
                var z = [Float](repeating: 0, count: means.count)
                var latentTerms = [Double](repeating: 0, count: indices.count)  // log p(z) − log q(z | x)
                for (row, index) in indices.enumerated() {
                    for j in 0..<zDim {
                        let i = row * zDim + j
                        let epsilon = CounterRandom.normal(seed: seed, purpose: .latentNoise, UInt64(k), UInt64(index), UInt64(j))
                        z[i] = means[i] + expf(logVariances[i] / 2) * epsilon
                        latentTerms[row] += Double(-0.5 * z[i] * z[i] + 0.5 * epsilon * epsilon + 0.5 * logVariances[i])
                    }
                }
                for (row, decoded) in inference.decode(z).enumerated() {
                    var squares = 0.0
                    for p in 0..<pixels {
                        let d = Double(decoded[p] - images[row * pixels + p])
                        squares += d * d
                    }
                    logWeights[row].append(-rLossFactor * squares / Double(pixels) - normalizer + latentTerms[row])
                }
            }
            for weights in logWeights {
                let largest = weights.max()!
                logLikelihood += largest + log(weights.reduce(0) { $0 + exp($1 - largest) } / Double(importanceSamples))
            }
        }
        return Result(loss: loss, logLikelihood: importanceSamples > 0 ? logLikelihood / Double(data.count) : nil)
    }
}
