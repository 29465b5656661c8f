// `vae eval`: a checkpoint's mean loss, reconstruction and KL over a whole image file, and with --iw-samples K
// the importance-weighted bound on log p(x) and the ELBO of the same draws, in nats and bits per dimension
// (see Evaluation.swift for the likelihoods); lines for people, then one JSON line.

import ArgumentParser
import Foundation
import VAEMath
import VAEReport
import VAESupport

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mean loss, reconstruction and KL of a checkpoint over an IDX file of images.")

    @OptionGroup var checkpoint: CheckpointOption

    @OptionGroup var data: ImagesOption

    @Option(name: .customLong("iw-samples"),
            help: "K > 0 adds the importance-weighted bound on log p(x) from K draws of z per image (K decodings each), and the ELBO of the same draws.")
    var importanceSamples = 0

    @Option(help: "The bound's likelihood p(x | z): r-loss (the book's loss as a Gaussian) or bernoulli.")
    var likelihood = Evaluation.Likelihood.rLoss

    func validate() throws { try check(importanceSamples, atLeast: 0, option: "--iw-samples") }

    func run() throws {
        try withTrainedModel(checkpoint) { trained in
            let images = try data.load(for: trained)
            let result = Evaluation.run(trained.inference, data: images, rLossFactor: trained.config.loss.rLossFactor,
                                        seed: UInt64(trained.config.training.seed), importanceSamples: importanceSamples, likelihood: likelihood)
            let loss = result.loss
            printLine("\(images.path): \(images.count) images" + String(format: "  loss %.3f  reconstruction %.3f  kl %.3f",
                                                                        loss.meanLoss, loss.meanReconstruction, loss.meanKL))
            if let (bound, elbo) = result.bound {
                printLine(String(format: "log p(x) ≥ %.3f nats (%.4f bits/dim), the importance-weighted bound of %d samples; ELBO %.3f nats (%.4f bits/dim)",
                                 bound, result.bitsPerDimension(bound), importanceSamples, elbo, result.bitsPerDimension(elbo))
                          + "; per image, under \(likelihood.description)")
            }
            printLine(try JSON.line(EvalSummary(data: images.path, images: images.count, loss: loss, result: result,
                                                importanceSamples: importanceSamples, likelihood: likelihood)))
        }
    }
}

extension Evaluation.Likelihood: ExpressibleByArgument {}

/// The JSON line of `vae eval`: the means per image, and with importance samples the bound and the ELBO.
struct EvalSummary: Encodable {
    let data: String
    let images: Int
    let loss: LossSums
    /// Without importance samples, the bound's keys are left out.
    let result: Evaluation.Result
    let importanceSamples: Int
    let likelihood: Evaluation.Likelihood

    enum CodingKeys: String, CodingKey {
        case data, images, loss, reconstruction, kl
        case logLikelihood = "log_likelihood", elbo, bitsPerDimension = "bits_per_dim", elboBitsPerDimension = "elbo_bits_per_dim"
        case importanceSamples = "iw_samples", likelihood
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(data, forKey: .data)
        try c.encode(images, forKey: .images)
        try c.encodeNumberOrNull(loss.meanLoss, forKey: .loss)
        try c.encodeNumberOrNull(loss.meanReconstruction, forKey: .reconstruction)
        try c.encodeNumberOrNull(loss.meanKL, forKey: .kl)
        if let (bound, elbo) = result.bound {
            try c.encodeNumberOrNull(bound, forKey: .logLikelihood)
            try c.encodeNumberOrNull(elbo, forKey: .elbo)
            try c.encodeNumberOrNull(result.bitsPerDimension(bound), forKey: .bitsPerDimension)
            try c.encodeNumberOrNull(result.bitsPerDimension(elbo), forKey: .elboBitsPerDimension)
            try c.encode(importanceSamples, forKey: .importanceSamples)
            try c.encode(likelihood.rawValue, forKey: .likelihood)
        }
    }
}
