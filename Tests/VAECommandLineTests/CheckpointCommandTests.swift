// The commands on a checkpoint, run as a user runs them on a small trained one: each picture has the expected
// size, in colour for a colour model, `vae sample` with the run's seed redraws the run's own prior.png, eval prints a JSON line, bad input is
// one line and exit status 2; and the importance-weighted log-likelihood behaves as its bound says.

import Foundation
import TestSupport
import Testing
import VAEData
import VAEReport
import VAETraining

/// One small run, trained once for every test here: 2 epochs on 640 real images, sampled on a small test set.
let trainedRun: (out: String, checkpoint: String, data: String) = {
    let directory = temporaryDirectory()
    let test = smallTestSet(in: directory)
    let out = directory.appendingPathComponent("run").path
    let outcome = try! runVAE(["train", "--config", defaultConfig,
                               "--set", "data.limit=640", "--set", "training.epochs=2", "--set", "data.test=\(test.images)",
                               "--set", "data.test_labels=\(test.labels)", "--out", out])
    precondition(outcome.status == 0, "training the fixture failed: \(outcome.stderr)")
    return (out, out + "/checkpoints/latest", test.images)
}()

@Suite struct CheckpointCommandTests {
    let directory = temporaryDirectory()

    func picture(_ arguments: [String], checkpoint: String = trainedRun.checkpoint,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> DecodedPNG {
        let out = directory.appendingPathComponent("\(UUID().uuidString).png").path
        let outcome = try runVAE(arguments + ["--checkpoint", checkpoint, "--out", out])
        #expect(outcome.status == 0 && outcome.stdout.contains("wrote \(out)"), "\(outcome.stderr)", sourceLocation: sourceLocation)
        return try decodePNG(file: out)
    }

    @Test func picturesHaveTheExpectedSizes() throws {
        let shape = { (png: DecodedPNG) in [png.width, png.height, png.colourType] }  // colour type 0: grey
        #expect(shape(try picture(["sample", "--count", "12"])) == [4 * 28 + 5 * 2, 3 * 28 + 4 * 2, 0])
        #expect(shape(try picture(["reconstruct", "--data", trainedRun.data, "--count", "12"])) == [302, 4 * 28 + 5 * 2, 0])
        #expect(shape(try picture(["interpolate", "--data", trainedRun.data, "--from", "0", "--to", "5", "--steps", "6"])) == [8 * 28 + 9 * 2, 32, 0])
    }

    @Test func colourCheckpointsDrawInColour() throws {
        // rgbRun's images start with a pure red and a pure green one; cells are 16 pixels, every 18 after a 2-pixel border.
        let sample = try picture(["sample", "--count", "4"], checkpoint: rgbRun.checkpoint)
        #expect(sample.colourType == 2 && sample.width == 2 * 16 + 3 * 2 && sample.height == sample.width)
        let reconstruct = try picture(["reconstruct", "--data", rgbRun.data, "--count", "2"], checkpoint: rgbRun.checkpoint)
        #expect(reconstruct.colourType == 2 && reconstruct.width == 2 * 16 + 3 * 2 && reconstruct.height == 2 * 16 + 3 * 2)
        #expect(reconstruct.pixel(x: 2, y: 2) == [255, 0, 0] && reconstruct.pixel(x: 20, y: 2) == [0, 255, 0])
        let interpolate = try picture(["interpolate", "--data", rgbRun.data, "--from", "0", "--to", "1", "--steps", "3"], checkpoint: rgbRun.checkpoint)
        #expect(interpolate.colourType == 2 && interpolate.width == 5 * 16 + 6 * 2 && interpolate.height == 16 + 2 * 2)
        #expect(interpolate.pixel(x: 2, y: 2) == [255, 0, 0] && interpolate.pixel(x: 2 + 4 * 18, y: 2) == [0, 255, 0])
    }

    @Test func sampleWithTheRunsSeedRedrawsItsPrior() throws {
        let out = directory.appendingPathComponent("prior.png").path
        #expect(try runVAE(["sample", "--checkpoint", trainedRun.checkpoint, "--count", "100", "--out", out]).status == 0)
        let own = FileManager.default.contents(atPath: trainedRun.out + "/samples/epoch-0002/prior.png")
        #expect(own != nil && FileManager.default.contents(atPath: out) == own)
    }

    @Test func evalPrintsTheBoundBesideTheELBOInNatsAndBitsPerDimension() throws {
        let outcome = try runVAE(["eval", "--checkpoint", trainedRun.checkpoint, "--data", trainedRun.data, "--iw-samples", "64"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = outcome.stdout.split(separator: "\n")
        #expect(lines.count == 3 && lines[0].contains("40 images"))
        #expect(lines[1].hasPrefix("log p(x) ≥ ") && lines[1].contains("bits/dim") && lines[1].contains("the book's r_loss likelihood"), "\(lines[1])")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as? [String: Any])
        #expect(json["images"] as? Int == 40 && json["iw_samples"] as? Int == 64 && json["likelihood"] as? String == "r-loss")
        let loss = try #require(json["loss"] as? Double), kl = try #require(json["kl"] as? Double)
        let reconstruction = try #require(json["reconstruction"] as? Double)
        let bound = try #require(json["log_likelihood"] as? Double), elbo = try #require(json["elbo"] as? Double)
        #expect(abs(loss - reconstruction - kl) < 1e-6 * loss && bound >= elbo)
        #expect(abs(try #require(json["bits_per_dim"] as? Double) + bound / (784 * log(2))) < 1e-9)
        let bernoulli = try runVAE(["eval", "--checkpoint", trainedRun.checkpoint, "--data", trainedRun.data, "--iw-samples", "4", "--likelihood", "bernoulli"])
        #expect(bernoulli.status == 0 && bernoulli.stdout.contains("a Bernoulli likelihood"), "\(bernoulli.stderr)")
    }

    @Test func badInputIsOneLine() throws {
        let lines = CommandLineTests()
        let checkpoint = ["--checkpoint", trainedRun.checkpoint]
        let missing = directory.appendingPathComponent("nowhere").path
        try lines.expectOneLineError(["sample", "--checkpoint", missing, "--out", "x.png"], mentioning: [missing, "no such checkpoint"])
        try lines.expectOneLineError(["sample", "--count", "0", "--out", "x.png"] + checkpoint, mentioning: ["--count 0"], status: 64)
        let small = write(imageFile(count: 3, height: 8, width: 8).encoded, to: directory.appendingPathComponent("small"))
        try lines.expectOneLineError(["reconstruct", "--data", small, "--out", "x.png"] + checkpoint, mentioning: ["--data", "8×8×1"])
        try lines.expectOneLineError(["interpolate", "--data", trainedRun.data, "--from", "0", "--to", "40", "--out", "x.png"] + checkpoint,
                                     mentioning: ["--to 40", "40 images"])
        try lines.expectOneLineError(["interpolate", "--data", trainedRun.data, "--from", "0", "--to", "1", "--steps", "1", "--out", "x.png"] + checkpoint,
                                     mentioning: ["--steps 1"], status: 64)
        try lines.expectOneLineError(["eval", "--data", missing] + checkpoint, mentioning: [missing])
    }

    /// At K = 1 the bound is the ELBO of its draw, and over many images it matches the ELBO the loss gives
    /// (analytic KL); it never falls below the ELBO of its own draws, and it grows with K, on a trained model.
    @Test func theImportanceWeightedBoundIsTheELBOAtOneAndGrowsWithK() throws {
        let trained = try TrainedModel(checkpoint: trainedRun.checkpoint)
        let data = try ImageDataset(path: fashionTrain, limit: 1024)
        let evaluate = { (k: Int) in try #require(Evaluation.run(trained.inference, data: data, rLossFactor: 1000, seed: 0, importanceSamples: k).bound) }
        let one = try evaluate(1), eight = try evaluate(8), many = try evaluate(64)
        #expect(one.logLikelihood == one.elbo, "one draw: the bound is its log-weight")
        // The Gaussian the loss implies: s² = 784 / 2000, so log p(x | z) = −reconstruction − 392 · log(2π · 0.392).
        let loss = Evaluation.run(trained.inference, data: data, rLossFactor: 1000, seed: 0).loss
        let elbo = -loss.meanLoss - 392 * log(2 * Double.pi * 0.392)
        #expect(abs(one.elbo - elbo) < 0.01 * abs(elbo), "K = 1 estimates the ELBO \(elbo), got \(one.elbo)")
        #expect(eight.logLikelihood >= eight.elbo && many.logLikelihood >= many.elbo)
        #expect(one.logLikelihood < eight.logLikelihood && eight.logLikelihood < many.logLikelihood, "\(one) \(eight) \(many)")
    }
}
