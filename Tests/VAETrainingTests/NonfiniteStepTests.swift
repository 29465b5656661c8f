// Non-finite numbers on one process: a diverging run stops at its first bad step with its last good checkpoint
// intact; a step poisoned with a NaN gradient is not applied, and under `skip` leaves the state exactly as if
// its batch had never been trained on.

import Foundation
import TestSupport
import Testing
@testable import VAECheckpoint
import VAEConfig
import VAEMath
import VAETraining

@Suite struct NonfiniteStepTests {
    /// 1 epoch of 10 steps on 320 real images, no pictures.
    func config(_ out: String = temporaryDirectory().path, onNonfinite: OnNonfinite = .stop) -> TrainingConfig {
        var config = TrainingConfig()
        config.data.limit = 320
        config.training.epochs = 1
        config.training.onNonfinite = onNonfinite
        config.samples.everyEpochs = 0
        config.output.directory = out
        return config
    }

    /// A trainer whose first weight's gradient is NaN in global step `step` (0-based), as in `vae-fault-injection`.
    func poisoned(_ config: TrainingConfig, atStep step: Int) throws -> Trainer {
        let trainer = try Trainer(config: config), p = trainer.model.parameters
        trainer.images = CuedImages(wrapping: trainer.images, microBatchesPerStep: 4) { if $0 == step && $1 == 0 { p.gradients[0] = .nan } }
        return trainer
    }

    @Test func aLearningRateOf1e9StopsAtTheFirstBadStepAndKeepsTheLastGoodCheckpoint() throws {
        let out = temporaryDirectory().path
        let outcome = try runVAE(["train", "--config", defaultConfig, "--out", out, "--set", "data.limit=320", "--set", "training.epochs=1",
                                  "--set", "learning_rate.base=1e9", "--set", "checkpoint.every_steps=1"])
        #expect(outcome.status == 2, "\(outcome.stderr)")
        #expect(outcome.stderr.hasPrefix("error: step 2: the loss and the gradients went non-finite on rank 0; the run stops without taking the step"),
                "\(outcome.stderr)")
        let checkpoints = out + "/checkpoints"
        #expect(try FileManager.default.contentsOfDirectory(atPath: checkpoints).sorted() == ["latest", "step-00000001"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: checkpoints + "/latest") == "step-00000001")
        let good = try Checkpoint.read(checkpoints + "/latest")
        #expect(good.state.step == 1 && good.model.tensors.allSatisfy { $0.values.allSatisfy(\.isFinite) })
    }

    @Test func underStopTheBadStepMovesNothingNotEvenAdamsStepCount() throws {
        let stopped = try poisoned(config(), atStep: 2)
        #expect(expectVAEError("step 3: the gradients went non-finite on rank 0", "training.on_nonfinite: stop") {
            try stopped.run(log: { _ in })
        } == nil)
        let twoSteps = try Trainer(config: config())
        try twoSteps.train(steps: 0..<2)
        #expect(stopped.optimizer.step == 2)
        #expect(Array(stopped.model.parameters.valueBuffer) == Array(twoSteps.model.parameters.valueBuffer))
        #expect(Array(stopped.optimizer.secondMoment) == Array(twoSteps.optimizer.secondMoment))
    }

    @Test func aSkippedStepLeavesTheStateAsIfItsBatchWereNeverTrainedOn() throws {
        let skipping = try poisoned(config(onNonfinite: .skip), atStep: 3)
        var lines: [String] = []
        #expect(try skipping.run(log: { lines.append($0) }) == .completed)
        #expect(lines.contains("warning: step 4: the gradients went non-finite on rank 0; skipped (training.on_nonfinite: skip), 1 in this run"))
        #expect(skipping.reports.map(\.skippedSteps) == [1] && lines.contains { $0.hasPrefix("epoch 1 ") && $0.hasSuffix("  skipped 1") })
        #expect(skipping.reports[0].loss.samples == 9 * 32 && skipping.reports[0].loss.meanLoss.isFinite)

        // The same run without step 4: its first 3 steps, then steps 5 to 10 from there.
        var reference = config()
        (reference.checkpoint.everySteps, reference.checkpoint.keep) = (3, 10)
        try Trainer(config: reference).run(log: { _ in })
        let afterThree = try Checkpoint.read(reference.output.directory + "/checkpoints/step-00000003")
        var state = afterThree.state
        (state.step, state.stepInEpoch) = (4, 4)
        let resumed = try Trainer(config: config())
        try resumed.run(resumingFrom: LoadedCheckpoint(path: afterThree.path, state: state, model: afterThree.model, optimizer: afterThree.optimizer),
                        log: { _ in })
        #expect(skipping.optimizer.step == 9 && resumed.optimizer.step == 9)
        #expect(Array(skipping.model.parameters.valueBuffer) == Array(resumed.model.parameters.valueBuffer))
        #expect(Array(skipping.optimizer.firstMoment) == Array(resumed.optimizer.firstMoment))
    }

    @Test func skippingMoreThanTheLimitStops() throws {
        var limited = config(onNonfinite: .skip)
        limited.training.maxSkippedSteps = 0
        #expect(expectVAEError("step 2: the gradients went non-finite on rank 0", "that makes 1 skipped in this run, more than training.max_skipped_steps (0)") {
            try poisoned(limited, atStep: 1).run(log: { _ in })
        } == nil)
    }
}
