// Trainer: the training loop. Each step gathers this rank's slice of the global batch, runs the model's
// forward and backward into the flat gradient buffer, and takes an Adam step with the epoch's learning rate.
// (The gradient allreduce joins here, between backward and the optimizer step, when there are ranks.)

import Foundation
import VAEMath

public struct EpochReport: Sendable {
    public let epoch: Int
    public let loss: LossSums
    public let learningRate: Float
    public let seconds: Double

    public var imagesPerSecond: Double { Double(loss.samples) / max(seconds, 1e-9) }

    public var line: String {
        String(format: "epoch %d  loss %.3f  reconstruction %.3f  kl %.3f  lr %g  images/s %.0f  time %.1f s",
               epoch + 1, loss.meanLoss, loss.meanReconstruction, loss.meanKL, learningRate, imagesPerSecond, seconds)
    }
}

public final class Trainer {
    public let config: TrainingConfig
    public let dataset: ImageDataset
    public let model: VariationalAutoencoder
    public let optimizer: Adam
    public let sampler: EpochSampler
    private let batch: Tensor

    public init(config: TrainingConfig) throws {
        self.config = config
        dataset = try ImageDataset(path: config.data.train, limit: config.data.limit)
        let a = config.model
        guard dataset.imageShape == [a.inputHeight, a.inputWidth, a.inputChannels] else {
            throw TrainingError("data.train: \(dataset.path) holds \(Self.format(dataset.imageShape)) images but model.input_shape is \(Self.format([a.inputHeight, a.inputWidth, a.inputChannels]))")
        }
        guard dataset.count >= config.training.batchSize else {
            throw TrainingError("data.train: \(dataset.path) has \(dataset.count) images, fewer than one batch (training.batch_size \(config.training.batchSize))")
        }
        let seed = UInt64(config.training.seed)
        model = VariationalAutoencoder(a, seed: seed)
        optimizer = Adam(parameterCount: model.parameters.count)
        sampler = EpochSampler(sampleCount: dataset.count, globalBatch: config.training.batchSize, seed: seed)
        batch = Tensor(batch: config.training.batchSize, itemShape: dataset.imageShape)
    }

    /// Trains every configured epoch, calling `log` with progress and per-epoch lines.
    @discardableResult
    public func run(log: (String) -> Void = { print($0) }) -> [EpochReport] {
        log("training \(dataset.count) images of \(Self.format(dataset.imageShape)) from \(dataset.path): "
            + "\(model.parameters.count) parameters, \(sampler.stepsPerEpoch) steps of \(sampler.globalBatch) per epoch")
        return (0..<config.training.epochs).map { epoch in
            let report = trainEpoch(epoch, log: log)
            log(report.line)
            return report
        }
    }

    /// One pass over the epoch's permutation; returns the loss summed over every step.
    public func trainEpoch(_ epoch: Int, log: (String) -> Void = { _ in }) -> EpochReport {
        let start = ContinuousClock.now
        let learningRate = config.schedule.learningRate(epoch: epoch)
        let order = sampler.order(epoch: epoch)
        var total = LossSums()
        let every = config.training.logEverySteps
        for step in 0..<sampler.stepsPerEpoch {
            total += trainStep(epoch: epoch, indices: sampler.indices(in: order, step: step), learningRate: learningRate)
            if every > 0 && (step + 1) % every == 0 {
                log(String(format: "  epoch %d step %d/%d  loss %.3f", epoch + 1, step + 1, sampler.stepsPerEpoch, total.meanLoss))
            }
        }
        let elapsed = start.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return EpochReport(epoch: epoch, loss: total, learningRate: learningRate, seconds: seconds)
    }

    /// One optimizer step on the samples at `indices`.
    public func trainStep(epoch: Int, indices: ArraySlice<Int>, learningRate: Float) -> LossSums {
        dataset.gather(indices, into: batch)
        let context = StepContext(training: true, seed: UInt64(config.training.seed), epoch: epoch, sampleIndices: Array(indices))
        model.parameters.zeroGradients()
        let sums = model.trainStep(batch, context, rLossFactor: Float(config.training.rLossFactor),
                                   globalBatch: sampler.globalBatch)
        optimizer.update(parameters: model.parameters.values, gradients: model.parameters.gradients, learningRate: learningRate)
        return sums
    }

    static func format(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "×") }
}
