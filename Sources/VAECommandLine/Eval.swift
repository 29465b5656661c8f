// `vae eval`: a checkpoint's mean loss, reconstruction and KL over a whole image file, and with
// --importance-samples K an importance-weighted log-likelihood estimate (see Evaluation.swift for the
// likelihood used); one line for people, then one JSON line.

import ArgumentParser
import Foundation
import VAEMath
import VAEReport
import VAESupport

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mean loss, reconstruction and KL of a checkpoint over an IDX file of images.")

    @OptionGroup var checkpoint: CheckpointOption

    @OptionGroup var data: ImagesOption

    @Option(help: "K > 0 adds an importance-weighted estimate of log p(x) from K draws of z per image (K decodings each).")
    var importanceSamples = 0

    func validate() throws { try check(importanceSamples, atLeast: 0, option: "--importance-samples") }

    func run() throws {
        try withTrainedModel(checkpoint) { trained in
            let images = try data.load(for: trained)
            let result = Evaluation.run(trained.inference, data: images, rLossFactor: trained.config.training.rLossFactor,
                                        seed: UInt64(trained.config.training.seed), importanceSamples: importanceSamples)
            let loss = result.loss
            var line = "\(images.path): \(images.count) images" + String(format: "  loss %.3f  reconstruction %.3f  kl %.3f",
                                                                      loss.meanLoss, loss.meanReconstruction, loss.meanKL)
            if let logLikelihood = result.logLikelihood {
                line += String(format: "  log-likelihood %.3f nats (%d importance samples)", logLikelihood, importanceSamples)
            }
            printLine(line)
            printLine(try JSON.line(EvalSummary(data: images.path, images: images.count, loss: loss, logLikelihood: result.logLikelihood,
                                                importanceSamples: importanceSamples)))
        }
    }
}

/// The JSON line of `vae eval`: the means per image, and with importance samples the log-likelihood estimate.
struct EvalSummary: Encodable {
    let data: String
    let images: Int
    let loss: LossSums
    /// Nil without importance samples, which leaves out log_likelihood and importance_samples.
    let logLikelihood: Double?
    let importanceSamples: Int

    enum CodingKeys: String, CodingKey {
        case data, images, loss, reconstruction, kl
        case logLikelihood = "log_likelihood", importanceSamples = "importance_samples"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(data, forKey: .data)
        try c.encode(images, forKey: .images)
        try c.encodeNumberOrNull(loss.meanLoss, forKey: .loss)
        try c.encodeNumberOrNull(loss.meanReconstruction, forKey: .reconstruction)
        try c.encodeNumberOrNull(loss.meanKL, forKey: .kl)
        if let logLikelihood {
            try c.encodeNumberOrNull(logLikelihood, forKey: .logLikelihood)
            try c.encode(importanceSamples, forKey: .importanceSamples)
        }
    }
}
