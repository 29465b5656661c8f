// Trainer: the data-parallel training loop. Every rank holds the whole model; each step, rank r gathers its
// slice of the global batch, runs forward and backward micro-batch by micro-batch into the flat gradient
// buffer (scaled by the global batch), sums the micro-batch gradients as a pairwise tree, and one allreduce
// sums gradients and loss terms over the ranks, so every rank takes the same Adam step with the global mean
// gradient. With power-of-two rank counts the whole sum is one fixed binary tree over micro-batches, so the
// run is bit-identical at 1, 2, 4, … ranks. Rank 0 alone logs and writes files.

import Foundation
import VAECommunication
import VAEMath

public final class Trainer {
    public let config: TrainingConfig
    public let communicator: Communicator
    public let dataset: ImageDataset
    public let model: VariationalAutoencoder
    public let optimizer: Adam
    public let sampler: EpochSampler
    /// Makes this rank throw at this global step (tests of failure handling).
    public var injectedFailure: (rank: Int, step: Int)?
    private let batch: Tensor
    private let leafGradients: PairwiseSum
    private var allreduceSeconds = 0.0

    public init(config: TrainingConfig, communicator: Communicator = SingleProcessCommunicator()) throws {
        self.config = config
        self.communicator = communicator
        let globalBatch = config.training.batchSize, ranks = communicator.size
        guard globalBatch % ranks == 0 else {
            throw TrainingError("training.batch_size: the global batch \(globalBatch) does not divide over \(ranks) ranks")
        }
        let localBatch = globalBatch / ranks, microBatch = config.training.microBatch
        guard localBatch % microBatch == 0 else {
            throw TrainingError("training.micro_batch: \(microBatch) does not divide the per-rank batch \(localBatch) (batch \(globalBatch) over \(ranks) ranks)")
        }
        dataset = try ImageDataset(path: config.data.train, limit: config.data.limit)
        let a = config.model
        guard dataset.imageShape == [a.inputHeight, a.inputWidth, a.inputChannels] else {
            throw TrainingError("data.train: \(dataset.path) holds \(Self.format(dataset.imageShape)) images but model.input_shape is \(Self.format([a.inputHeight, a.inputWidth, a.inputChannels]))")
        }
        guard dataset.count >= globalBatch else {
            throw TrainingError("data.train: \(dataset.path) has \(dataset.count) images, fewer than one batch (training.batch_size \(globalBatch))")
        }
        let seed = UInt64(config.training.seed)
        model = VariationalAutoencoder(a, seed: seed)
        optimizer = Adam(parameterCount: model.parameters.count)
        sampler = EpochSampler(sampleCount: dataset.count, globalBatch: globalBatch, seed: seed)
        batch = Tensor(batch: microBatch, itemShape: dataset.imageShape)
        leafGradients = PairwiseSum(count: model.parameters.reductionBuffer.count)
    }

    /// Trains every configured epoch. Only rank 0 calls `log` and writes metrics.
    @discardableResult
    public func run(log: (String) -> Void = { print($0) }) throws -> [EpochReport] {
        try synchronizeRanks()
        let leader = communicator.rank == 0
        let metrics = leader ? try MetricsLog(directory: config.output.directory) : nil
        if leader {
            log("training \(dataset.count) images of \(Self.format(dataset.imageShape)) from \(dataset.path): "
                + "\(model.parameters.count) parameters, \(sampler.stepsPerEpoch) steps of \(sampler.globalBatch) per epoch"
                + (communicator.size > 1 ? " over \(communicator.size) ranks" : ""))
        }
        var reports: [EpochReport] = []
        for epoch in 0..<config.training.epochs {
            let report = try trainEpoch(epoch, metrics: metrics, log: leader ? log : { _ in })
            metrics?.record(report)
            if leader { log(report.line) }
            reports.append(report)
        }
        return reports
    }

    /// Rank 0's parameters become everyone's, after checking that every rank resolved the same config.
    public func synchronizeRanks() throws {
        let hashes = try communicator.allgather(config.fingerprint)
        let differing = hashes.indices.filter { hashes[$0] != hashes[0] }
        guard differing.isEmpty else {
            throw TrainingError("the resolved config differs between rank 0 and rank\(differing.count > 1 ? "s" : "") \(differing.map(String.init).joined(separator: ", ")); every rank must train the same model on the same settings")
        }
        let p = model.parameters
        try communicator.broadcast(UnsafeMutableRawBufferPointer(p.valueBuffer), root: 0)
        try communicator.broadcast(UnsafeMutableRawBufferPointer(p.stateBuffer), root: 0)
    }

    /// One pass over the epoch's permutation; returns the global loss summed over every step.
    public func trainEpoch(_ epoch: Int, metrics: MetricsLog? = nil, log: (String) -> Void = { _ in }) throws -> EpochReport {
        let start = ContinuousClock.now
        let learningRate = config.schedule.learningRate(epoch: epoch)
        let order = sampler.order(epoch: epoch)
        var total = LossSums(), interval = LossSums()
        var intervalStart = ContinuousClock.now, intervalAllreduce = allreduceSeconds
        let every = config.training.logEverySteps
        let epochAllreduce = allreduceSeconds
        for step in 0..<sampler.stepsPerEpoch {
            let indices = sampler.indices(in: order, step: step, rank: communicator.rank, worldSize: communicator.size)
            let sums = try trainStep(epoch: epoch, step: step, indices: indices, learningRate: learningRate)
            total += sums
            interval += sums
            if every > 0 && (step + 1) % every == 0 {
                let seconds = Self.seconds(since: intervalStart)
                let globalStep = epoch * sampler.stepsPerEpoch + step + 1
                metrics?.recordInterval(step: globalStep, epoch: epoch, loss: interval, learningRate: learningRate,
                                        seconds: seconds, allreduceMilliseconds: (allreduceSeconds - intervalAllreduce) * 1000 / Double(every))
                log(String(format: "  epoch %d step %d/%d  loss %.3f  images/s %.0f", epoch + 1, step + 1,
                           sampler.stepsPerEpoch, interval.meanLoss, Double(interval.samples) / max(seconds, 1e-9)))
                interval = LossSums()
                intervalStart = ContinuousClock.now
                intervalAllreduce = allreduceSeconds
            }
        }
        return EpochReport(epoch: epoch, loss: total, learningRate: learningRate, seconds: Self.seconds(since: start),
                           allreduceMilliseconds: communicator.size > 1 ? (allreduceSeconds - epochAllreduce) * 1000 / Double(sampler.stepsPerEpoch) : nil)
    }

    /// One optimizer step on this rank's `indices`; returns the loss sums over the whole global batch.
    public func trainStep(epoch: Int, step: Int, indices: ArraySlice<Int>, learningRate: Float) throws -> LossSums {
        if let failure = injectedFailure, failure.rank == communicator.rank, failure.step == epoch * sampler.stepsPerEpoch + step {
            throw TrainingError("injected failure at step \(failure.step) (VAE_FAIL_AT_STEP)")
        }
        let p = model.parameters, microBatch = config.training.microBatch
        var local = LossSums()
        for start in stride(from: indices.startIndex, to: indices.endIndex, by: microBatch) {
            let leaf = indices[start..<(start + microBatch)]
            dataset.gather(leaf, into: batch)
            let context = StepContext(training: true, seed: UInt64(config.training.seed), epoch: epoch, sampleIndices: leaf)
            p.zeroGradients()
            let sums = model.trainStep(batch, context, rLossFactor: Float(config.training.rLossFactor), globalBatch: sampler.globalBatch)
            p.trailingScalars[0] = Float(sums.reconstruction)
            p.trailingScalars[1] = Float(sums.kl)
            leafGradients.add(p.gradients)
            local += sums
        }
        leafGradients.finish(into: p.gradients)
        let started = ContinuousClock.now
        try communicator.allreduceSum(p.reductionBuffer)
        allreduceSeconds += Self.seconds(since: started)
        optimizer.update(parameters: p.values, gradients: p.gradients, learningRate: learningRate)
        return LossSums(reconstruction: Double(p.trailingScalars[0]), kl: Double(p.trailingScalars[1]), samples: local.samples * communicator.size)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = start.duration(to: .now)
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    static func format(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "×") }
}
