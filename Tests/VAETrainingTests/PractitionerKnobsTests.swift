// The knobs a VAE practitioner turns: the KL weight's β, warm-up and cycles; gradient clipping against its
// formula on a planted gradient, and the skip above a norm; the weights' moving average against its
// recurrence; the best checkpoint by validation loss, kept through pruning and passed over by --resume; and a
// run with all of them on, interrupted and resumed, ending with the bytes of a run never interrupted.

import Foundation
import TestSupport
import Testing
import VAECheckpoint
import VAEConfig
import VAEData
import VAEMath
@testable import VAETraining

@Suite struct PractitionerKnobsTests {
    /// 10 steps an epoch, a metrics record every step, a small test set to validate on.
    func config(_ out: String = temporaryDirectory().path, epochs: Int = 1) -> TrainingConfig {
        var config = TrainingConfig()
        config.data.limit = 320
        (config.data.test, config.data.testLabels) = smallTestSet(in: temporaryDirectory())
        config.training.epochs = epochs
        config.training.logEverySteps = 1
        config.samples.everyEpochs = 0
        config.tensorBoard.enabled = false
        config.output.directory = out
        return config
    }

    @Test func theKLWeightIsBetaRampedAndCycled() {
        var config = TrainingConfig()
        #expect((0..<5).allSatisfy { config.klWeight(step: $0) == 1 }, "the book's weight, exactly")
        config.loss.beta = 4
        config.loss.klWarmupSteps = 4
        #expect((0..<6).map(config.klWeight) == [0, 1, 2, 3, 4, 4])
        config.loss.klCycleSteps = 6
        #expect((0..<14).map(config.klWeight) == [0, 1, 2, 3, 4, 4, 0, 1, 2, 3, 4, 4, 0, 1])
    }

    /// A trainer whose first weight's gradient starts at `planted` in every micro-batch of step 0.
    func planted(_ config: TrainingConfig, _ planted: Float) throws -> Trainer {
        let trainer = try Trainer(config: config), p = trainer.model.parameters
        trainer.images = CuedImages(wrapping: trainer.images, microBatchesPerStep: 4) { step, _ in if step == 0 { p.gradients[0] = planted } }
        return trainer
    }

    @Test func clippingScalesThePlantedGradientToTheNorm() throws {
        let free = try planted(config(), 1e4)
        let freeResult = try free.step(0)
        let gradient = Array(free.model.parameters.gradientBuffer), norm = Kernels.l2Norm(free.model.parameters.gradients, count: gradient.count)
        #expect(norm > 1e4 && freeResult.gradientNorm == norm, "rank 0 measures the norm at a logged step")

        var clipped = config()
        clipped.training.clipGradNorm = 5
        let clipping = try planted(clipped, 1e4)
        let result = try clipping.step(0)
        #expect(result.gradientNorm == norm && result.skipped == nil)
        let scale = Float(5 / norm)
        #expect(Array(clipping.model.parameters.gradientBuffer) == gradient.map { $0 * scale }, "g · clip / ‖g‖")
        #expect(Kernels.l2Norm(clipping.model.parameters.gradients, count: gradient.count) < 5.0001)
        #expect(Array(clipping.model.parameters.valueBuffer) != Array(free.model.parameters.valueBuffer))
    }

    @Test func aStepAboveTheSkipNormMovesNothingAndIsCounted() throws {
        var skipping = config()
        skipping.training.skipGradNorm = 1e4
        let trainer = try planted(skipping, 1e5)
        let before = Array(trainer.model.parameters.valueBuffer)
        let result = try trainer.step(0)
        #expect(result.skipped?.description.hasPrefix("step 1: the gradient's norm") == true
                && result.skipped?.description.hasSuffix("is above training.skip_grad_norm (10000); skipped") == true, "\(String(describing: result.skipped))")
        #expect(Array(trainer.model.parameters.valueBuffer) == before && trainer.optimizer.step == 0 && trainer.skippedSteps == 1)
        #expect(try trainer.step(1).skipped == nil, "an ordinary step is taken")

        skipping.training.maxSkippedSteps = 0
        #expect(expectVAEError("step 1: the gradient's norm", "more than training.max_skipped_steps (0)") { _ = try planted(skipping, 1e5).step(0) } == nil)
    }

    @Test func theAverageFollowsItsRecurrence() throws {
        var averaging = config()
        averaging.training.emaDecay = 0.9
        let trainer = try Trainer(config: averaging), p = trainer.model.parameters
        var expected = Array(p.valueBuffer)
        let keep: Float = 0.9, take = 1 - keep
        for step in 0..<3 {
            _ = try trainer.step(step)
            let weights = Array(p.valueBuffer)
            expected = zip(expected, weights).map { keep * $0 + take * $1 }
        }
        #expect(Array(trainer.average!.values) == expected, "the average is not the recurrence's")
        #expect(expected != Array(p.valueBuffer))
    }

    @Test func theBestCheckpointIsKeptThroughPruningAndResumeTakesTheNewest() throws {
        let out = temporaryDirectory().path
        var best = config(out, epochs: 3)
        (best.checkpoint.keepBest, best.checkpoint.keep, best.validation.everyEpochs) = (true, 1, 1)
        let trainer = try Trainer(config: best)
        var lines: [String] = []
        try trainer.run(log: { lines.append($0) })
        let losses = try #require(trainer.reports.map(\.validation?.meanLoss) as? [Double])
        #expect(losses.count == 3, "keep_best validates on the test split when data.validation names none")
        let root = Checkpoint.directory(of: out), bestStep = (losses.indices.min { losses[$0] < losses[$1] }! + 1) * 10
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/best") == "best-" + Checkpoint.name(step: bestStep))
        #expect(Checkpoint.all(in: root) == [root + "/" + Checkpoint.name(step: 30)], "keep 1 leaves the newest step only")
        let kept = try Checkpoint.read(root + "/best")
        #expect(kept.state.step == bestStep && kept.state.validationLoss == losses.min())
        #expect(try Checkpoint.newestValid(runDirectory: out) { _ in }.state.step == 30)
        #expect(lines.contains { $0.hasPrefix("best \(root)/best-") })
        #expect(lines.contains { $0.hasPrefix("epoch 1 ") && $0.contains("  validation loss ") })
    }

    /// β with a warm-up, clipping, an average and keep_best: stopped after 7 steps and resumed, the run ends with
    /// the weights and average of the run never stopped.
    @Test func aRunWithEveryKnobResumesExactly() throws {
        func knobs(_ out: String, epochs: Int) -> TrainingConfig {
            var c = config(out, epochs: epochs)
            (c.loss.beta, c.loss.klWarmupSteps, c.training.clipGradNorm, c.training.emaDecay) = (4, 15, 5, 0.99)
            (c.checkpoint.keepBest, c.checkpoint.everySteps, c.checkpoint.keep) = (true, 7, 10)
            return c
        }
        let straight = temporaryDirectory().path, stopped = temporaryDirectory().path
        try Trainer(config: knobs(straight, epochs: 2)).run(log: { _ in })
        try Trainer(config: knobs(stopped, epochs: 1)).run(log: { _ in })
        let resumed = try Trainer(config: knobs(stopped, epochs: 2))
        try resumed.run(resumingFrom: try Checkpoint.read(stopped + "/checkpoints/" + Checkpoint.name(step: 7)), log: { _ in })
        for file in [Checkpoint.modelFile, Checkpoint.averageFile] {
            let path = { (out: String) in out + "/checkpoints/" + Checkpoint.name(step: 20) + "/" + file }
            #expect(FileManager.default.contents(atPath: path(straight)) != nil && FileManager.default.contents(atPath: path(stopped)) == FileManager.default.contents(atPath: path(straight)), "\(file)")
        }
    }
}
