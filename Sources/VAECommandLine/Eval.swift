// `vae eval`: a checkpoint's mean loss, reconstruction and KL over a whole image file, and with
// --importance-samples K an importance-weighted log-likelihood estimate (see Evaluation.swift for the
// likelihood used); one line for people, then one JSON line.

import ArgumentParser
import Foundation
import VAEReport

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
            var json: [String: Any] = ["data": images.path, "images": images.count, "loss": loss.meanLoss,
                                       "reconstruction": loss.meanReconstruction, "kl": loss.meanKL]
            if let logLikelihood = result.logLikelihood {
                line += String(format: "  log-likelihood %.3f nats (%d importance samples)", logLikelihood, importanceSamples)
                json["log_likelihood"] = logLikelihood
                json["importance_samples"] = importanceSamples
            }
            printLine(line)
            let finite = json.mapValues { value -> Any in (value as? Double).map { $0.isFinite ? value : NSNull() } ?? value }
            printLine(String(decoding: try JSONSerialization.data(withJSONObject: finite, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
        }
    }
}
