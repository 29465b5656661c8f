// A short real training run on real Fashion-MNIST images: the loss falls well below where it started,
// and the same seed gives the same run.

import TestSupport
import Testing
import VAEConfig
import VAEMath
import VAETraining

@Suite struct TrainingRunTests {
    func config(limit: Int, epochs: Int) -> TrainingConfig {
        var config = TrainingConfig()
        config.data.limit = limit
        config.training.epochs = epochs
        config.output.directory = temporaryDirectory().path
        return config
    }

    @Test func lossFallsWellBelowItsStart() throws {
        let trainer = try Trainer(config: config(limit: 2048, epochs: 2))
        let probe = Tensor(batch: 0, itemShape: [28, 28, 1])
        trainer.dataset.gather(0..<256, into: probe)
        let context = StepContext(training: false, seed: 0, epoch: 0, sampleIndices: Array(0..<256))
        let before = trainer.model.evaluate(probe, context, rLossFactor: 1000).meanLoss
        #expect(try trainer.run(log: { _ in }) == .completed)
        let reports = trainer.reports
        let after = trainer.model.evaluate(probe, context, rLossFactor: 1000).meanLoss
        #expect(reports.count == 2 && reports.allSatisfy { $0.loss.samples == 2048 })
        #expect(reports[1].loss.meanLoss < reports[0].loss.meanLoss)
        #expect(after < 0.5 * before, "loss \(before) → \(after)")
        #expect(after.isFinite && reports.allSatisfy { $0.loss.meanKL > 0 })
    }

    @Test func sameSeedSameRun() throws {
        let a = try Trainer(config: config(limit: 256, epochs: 1)), b = try Trainer(config: config(limit: 256, epochs: 1))
        try a.run(log: { _ in })
        try b.run(log: { _ in })
        let ra = a.reports, rb = b.reports
        #expect(ra[0].loss == rb[0].loss)
        #expect(Array(a.model.parameters.valueBuffer) == Array(b.model.parameters.valueBuffer))
    }

    @Test func dataThatDoesNotFitTheModelIsAnError() throws {
        let directory = temporaryDirectory()
        let small = write(imageFile(count: 40, height: 8, width: 8).encoded, to: directory.appendingPathComponent("small"))
        var c = config(limit: 0, epochs: 1)
        c.data.train = small
        #expect(expectVAEError("data.train", "8×8×1", "28×28×1") { _ = try Trainer(config: c) } == nil)
        c.data.train = write(imageFile(count: 10).encoded, to: directory.appendingPathComponent("ten"))
        #expect(expectVAEError("data.train", "10 images", "fewer than one batch") { _ = try Trainer(config: c) } == nil)
    }
}
