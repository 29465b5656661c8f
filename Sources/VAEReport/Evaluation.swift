// Evaluation: the VAE loss over a whole image file, and optionally an importance-weighted bound on each image's
// log-likelihood (Burda, Grosse & Salakhutdinov 2016), averaged over the file:
//   log p(x) ≥ log (1/K) Σ_k w_k,   w_k = p(x | z_k) p(z_k) / q(z_k | x),   z_k ~ q(z | x) = N(μ(x), diag σ²(x))
// beside the ELBO of the same K draws, (1/K) Σ_k log w_k, which the bound never falls below (Jensen) and which
// it equals in expectation at K = 1. Two likelihoods p(x | z), densities over pixel values in [0, 1], in nats:
//   r-loss     the Gaussian decoder the book's loss implies: r_loss_factor · mean((x − y)²) is −log N(x; y, s²·I)
//              up to a constant when s² = D / (2 · r_loss_factor), D = height · width · channels:
//              log p(x | z) = −r_loss_factor · mean((x − y)²) − (D/2) · log(2π s²)
//   bernoulli  Σ x log y + (1 − x) log(1 − y), the decoder's sigmoid output as each pixel's probability
// Every draw is a pure function of (seed, k, image index), so a run is deterministic per seed.

import Foundation
import VAEData
import VAEMath

public enum Evaluation {
    /// p(x | z), the likelihood the bound uses.
    public enum Likelihood: String, CaseIterable, Sendable {
        case rLoss = "r-loss", bernoulli

        public var description: String {
            switch self {
            case .rLoss: "the book's r_loss likelihood (a Gaussian of variance D / (2 · r_loss_factor))"
            case .bernoulli: "a Bernoulli likelihood (the decoder's output as each pixel's probability)"
            }
        }
    }

    public struct Result: Sendable {
        public let loss: LossSums
        /// Per image, in nats, with importance samples: the bound on log p(x), and the ELBO of the same draws.
        public let bound: (logLikelihood: Double, elbo: Double)?
        /// Height × width × channels: what bits per dimension divide by.
        public let dimensions: Int

        /// A log-likelihood in nats per image as bits per dimension: −value / (D · ln 2).
        public func bitsPerDimension(_ nats: Double) -> Double { -nats / (Double(dimensions) * log(2)) }
    }

    /// Evaluates every image of `data`; `importanceSamples` K > 0 adds the bound and its ELBO under `likelihood`.
    /// The loss uses one draw per image, the bound's first (k = 0).
    public static func run(_ inference: Inference, data: ImageDataset, rLossFactor: Double, seed: UInt64,
                           importanceSamples: Int = 0, likelihood: Likelihood = .rLoss) -> Result {
        let model = inference.model, zDim = inference.zDim
        let pixels = data.height * data.width * data.channels
        let normalizer = Double(pixels) / 2 * log(2 * Double.pi * Double(pixels) / (2 * rLossFactor))
        /// log p(x | z) of one image and its decoding.
        func logLikelihood(_ x: UnsafePointer<Float>, _ y: [Float]) -> Double {
            var total = 0.0
            switch likelihood {
            case .rLoss:
                for p in 0..<pixels {
                    let d = Double(y[p] - x[p])
                    total += d * d
                }
                return -rLossFactor * total / Double(pixels) - normalizer
            case .bernoulli:
                for p in 0..<pixels {
                    let probability = min(max(Double(y[p]), 1e-7), 1 - 1e-7), target = Double(x[p])
                    total += target * log(probability) + (1 - target) * log(1 - probability)
                }
                return total
            }
        }
        var loss = LossSums(), bound = 0.0, elbo = 0.0
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
                    logWeights[row].append(logLikelihood(images.pointer + row * pixels, decoded) + latentTerms[row])
                }
            }
            for weights in logWeights {
                let largest = weights.max()!
                bound += largest + log(weights.reduce(0) { $0 + exp($1 - largest) } / Double(importanceSamples))
                elbo += weights.reduce(0, +) / Double(importanceSamples)
            }
        }
        let images = Double(data.count)
        return Result(loss: loss, bound: importanceSamples > 0 ? (bound / images, elbo / images) : nil, dimensions: pixels)
    }
}
