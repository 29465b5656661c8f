// Trainer: the data-parallel training loop. Every rank holds the whole model; each step, rank r gathers its
// slice of the global batch, runs forward and backward micro-batch by micro-batch into the flat gradient
// buffer (scaled by the global batch), and GradientReduction sums the micro-batch gradients as a pairwise
// tree and over the ranks, bucket by bucket during the last backward pass, loss terms and a stop flag
// included, so every rank takes the same Adam step with the global mean gradient. With power-of-two rank
// counts the whole sum is one fixed binary tree over micro-batches, so the run is bit-identical at 1, 2,
// 4, … ranks. Rank 0 alone logs and writes files.

import Foundation
import VAECheckpoint
import VAECommunication
import VAEConfig
import VAEData
import VAEMath
import VAEReport
import VAESupport

public final class Trainer {
    public let config: TrainingConfig
    public let communicator: Communicator
    public let dataset: ImageDataset
    public let model: VariationalAutoencoder
    public let optimizer: Adam
    public let sampler: EpochSampler
    /// Rank 0's live line on a terminal (set by the CLI); when set, it replaces the interval progress lines.
    public var liveProgress: LiveProgress?
    /// Makes this rank throw at this global step (tests of failure handling).
    public var injectedFailure: (rank: Int, step: Int)?
    private let batch: Tensor
    private let reduction: GradientReduction
    /// Wall time spent in the gradient allreduce's calls since the trainer was made.
    public var allreduceSeconds: Double { reduction.seconds }
    /// How many allreduces a step starts.
    public var bucketCount: Int { reduction.buckets.count }

    public init(config: TrainingConfig, communicator: Communicator = SingleProcessCommunicator()) throws {
        self.config = config
        self.communicator = communicator
        let globalBatch = config.training.batchSize, ranks = communicator.size
        guard globalBatch % ranks == 0 else {
            throw VAEError("training.batch_size: the global batch \(globalBatch) does not divide over \(ranks) ranks")
        }
        let localBatch = globalBatch / ranks, microBatch = config.training.microBatch
        guard localBatch % microBatch == 0 else {
            throw VAEError("training.micro_batch: \(microBatch) does not divide the per-rank batch \(localBatch) (batch \(globalBatch) over \(ranks) ranks)")
        }
        dataset = try ImageDataset(path: config.data.train, limit: config.data.limit)
        try dataset.check(fits: config.model, source: "data.train")
        guard dataset.count >= globalBatch else {
            throw VAEError("data.train: \(dataset.path) has \(dataset.count) images, fewer than one batch (training.batch_size \(globalBatch))")
        }
        let seed = UInt64(config.training.seed)
        model = VariationalAutoencoder(config.model, seed: seed)
        optimizer = Adam(parameterCount: model.parameters.count)
        sampler = EpochSampler(sampleCount: dataset.count, globalBatch: globalBatch, seed: seed)
        batch = Tensor(batch: microBatch, itemShape: dataset.imageShape)
        reduction = GradientReduction(buffer: model.parameters.reductionBuffer, layerRanges: model.backwardParameterRanges,
                                      overlap: config.allreduce.overlap, bucketFloats: config.allreduce.bucketKB * 1024 / MemoryLayout<Float>.size,
                                      communicator: communicator)
    }

    /// How a run ended: every epoch done, or stopped early at a step boundary by a signal.
    public enum Outcome: Equatable, Sendable {
        case completed
        case stopped(signal: Int32)
    }

    /// Set by the CLI's signal handlers; polled once per step and carried in the step's allreduce,
    /// so every rank stops at the same step. Returns the signal number, or 0.
    public var stopSignal: () -> Int32 = { 0 }
    public private(set) var reports: [EpochReport] = []

    /// Trains from the start, or from `checkpoint` (read by rank 0 only; nil elsewhere), to the last epoch.
    /// Only rank 0 calls `log` and writes files.
    @discardableResult
    public func run(resumingFrom checkpoint: LoadedCheckpoint? = nil, log: (String) -> Void = { print($0) }) throws -> Outcome {
        let leader = communicator.rank == 0
        if let checkpoint { try restore(checkpoint) }
        try synchronizeRanks()
        var progress = try broadcastProgress(checkpoint.map { [$0.state.step, $0.state.epoch, $0.state.stepInEpoch] })
        let metrics = leader ? try MetricsLog(directory: config.output.directory, appending: checkpoint != nil) : nil
        let samples = leader ? try SampleWriter(config: config, model: model, stepsPerEpoch: sampler.stepsPerEpoch) : nil
        if leader {
            log("training \(dataset.count) images of \(formatShape(dataset.imageShape)) from \(dataset.path): "
                + "\(model.parameters.count) parameters, \(sampler.stepsPerEpoch) steps of \(sampler.globalBatch) per epoch"
                + (communicator.size > 1 ? " over \(communicator.size) ranks" : "")
                + (checkpoint.map { ", resuming from \($0.path) at step \(progress.step)" } ?? ""))
        }
        while progress.epoch < config.training.epochs {
            let (report, stop) = try trainEpoch(progress.epoch, from: progress.stepInEpoch, metrics: metrics, log: leader ? log : { _ in },
                                                checkpointEvery: config.checkpoint.everySteps)
            progress.step += report.steps
            progress.stepInEpoch += report.steps
            if report.steps > 0 {
                metrics?.record(report, step: progress.step)
                if leader { log(report.line) }
                reports.append(report)
            }
            if stop != 0 {
                try writeCheckpoint(progress, log: log)
                if leader { log("stopped by signal \(stop) at step \(progress.step); resume with --resume") }
                return .stopped(signal: stop)
            }
            if progress.stepInEpoch == sampler.stepsPerEpoch {
                progress = (progress.step, progress.epoch + 1, 0)
                let every = config.checkpoint.everyEpochs
                if (every > 0 && progress.epoch % every == 0) || progress.epoch == config.training.epochs {
                    try writeCheckpoint(progress, log: log)
                }
                if let samples, samples.isDue(afterEpoch: progress.epoch) {
                    let started = ContinuousClock.now
                    let directory = try samples.write(afterEpoch: progress.epoch)
                    log("samples \(directory) (" + String(format: "%.2f s)", started.secondsElapsed))
                }
            }
        }
        return .completed
    }

    private func restore(_ checkpoint: LoadedCheckpoint) throws {
        let saved = checkpoint.state.config.model
        guard saved == config.model else {
            let differences = Mirror(reflecting: saved).children.compactMap { child -> String? in
                let now = Mirror(reflecting: config.model).children.first { $0.label == child.label }!.value
                return "\(child.value)" == "\(now)" ? nil : "\(child.label!) is \(child.value) in the checkpoint, \(now) in the config"
            }
            throw VAEError("\(checkpoint.path): the checkpoint's model differs from the config's: \(differences.joined(separator: "; "))")
        }
        guard checkpoint.state.globalBatch == config.training.batchSize, checkpoint.state.seed == config.training.seed else {
            throw VAEError("\(checkpoint.path): the checkpoint was trained with batch_size \(checkpoint.state.globalBatch) and seed \(checkpoint.state.seed); the config says \(config.training.batchSize) and \(config.training.seed)")
        }
        try Checkpoint.restore(checkpoint, model: model, optimizer: optimizer)
    }

    /// Rank 0's progress (and Adam's step count and moments) become everyone's.
    private func broadcastProgress(_ fromCheckpoint: [Int]?) throws -> (step: Int, epoch: Int, stepInEpoch: Int) {
        var numbers = (fromCheckpoint ?? [0, 0, 0]) + [optimizer.step]
        try numbers.withUnsafeMutableBytes { try communicator.broadcast($0, root: 0) }
        optimizer.step = numbers[3]
        try communicator.broadcast(UnsafeMutableRawBufferPointer(optimizer.firstMoment), root: 0)
        try communicator.broadcast(UnsafeMutableRawBufferPointer(optimizer.secondMoment), root: 0)
        return (numbers[0], numbers[1], numbers[2])
    }

    /// Rank 0 writes; the others wait at the barrier, so nobody runs ahead of a checkpoint in progress.
    private func writeCheckpoint(_ progress: (step: Int, epoch: Int, stepInEpoch: Int), log: (String) -> Void) throws {
        if communicator.rank == 0 {
            let state = CheckpointState(step: progress.step, epoch: progress.epoch, stepInEpoch: progress.stepInEpoch,
                                        seed: config.training.seed, worldSize: communicator.size, globalBatch: sampler.globalBatch,
                                        learningRate: config.schedule.learningRate(epoch: progress.epoch), config: config, checksums: [:])
            let path = try Checkpoint.write(runDirectory: config.output.directory, model: model, optimizer: optimizer,
                                            state: state, keep: config.checkpoint.keep)
            log("checkpoint \(path)")
        }
        try communicator.barrier()
    }

    /// Rank 0's parameters become everyone's, after checking that every rank resolved the same config.
    public func synchronizeRanks() throws {
        let hashes = try communicator.allgather(config.fingerprint)
        let differing = hashes.indices.filter { hashes[$0] != hashes[0] }
        guard differing.isEmpty else {
            throw VAEError("the resolved config differs between rank 0 and rank\(differing.count > 1 ? "s" : "") \(differing.map(String.init).joined(separator: ", ")); every rank must train the same model on the same settings")
        }
        let p = model.parameters
        try communicator.broadcast(UnsafeMutableRawBufferPointer(p.valueBuffer), root: 0)
        try communicator.broadcast(UnsafeMutableRawBufferPointer(p.stateBuffer), root: 0)
    }

    /// The epoch's steps from `first` on, until its end or a stop signal; the report covers the steps taken.
    public func trainEpoch(_ epoch: Int, from first: Int = 0, metrics: MetricsLog? = nil, log: (String) -> Void = { _ in },
                           checkpointEvery: Int = 0) throws -> (report: EpochReport, stopSignal: Int32) {
        let start = ContinuousClock.now
        let learningRate = config.schedule.learningRate(epoch: epoch)
        let order = sampler.order(epoch: epoch)
        var total = LossSums(), interval = LossSums()
        var intervalStart = ContinuousClock.now, intervalAllreduce = allreduceSeconds
        let every = config.training.logEverySteps
        let epochAllreduce = allreduceSeconds
        var step = first, stop: Int32 = 0
        while step < sampler.stepsPerEpoch && stop == 0 {
            let indices = sampler.indices(in: order, step: step, rank: communicator.rank, worldSize: communicator.size)
            let result = try trainStep(epoch: epoch, step: step, indices: indices, learningRate: learningRate)
            stop = result.stopSignal
            total += result.loss
            interval += result.loss
            step += 1
            let globalStep = epoch * sampler.stepsPerEpoch + step
            liveProgress?.update(epoch: epoch, of: config.training.epochs, step: step, of: sampler.stepsPerEpoch, stepsTaken: step - first,
                                 loss: total, seconds: start.secondsElapsed)
            if every > 0 && step % every == 0 {
                let seconds = intervalStart.secondsElapsed
                metrics?.recordInterval(step: globalStep, epoch: epoch, loss: interval, learningRate: learningRate,
                                        seconds: seconds, allreduceMilliseconds: (allreduceSeconds - intervalAllreduce) * 1000 / Double(every))
                if liveProgress == nil {
                    log(String(format: "  epoch %d step %d/%d  loss %.3f  images/s %.0f", epoch + 1, step,
                               sampler.stepsPerEpoch, interval.meanLoss, Double(interval.samples) / max(seconds, 1e-9)))
                }
                interval = LossSums()
                intervalStart = ContinuousClock.now
                intervalAllreduce = allreduceSeconds
            }
            if checkpointEvery > 0 && globalStep % checkpointEvery == 0 && step < sampler.stepsPerEpoch && stop == 0 {
                try writeCheckpoint((globalStep, epoch, step), log: log)
            }
        }
        let steps = step - first
        let report = EpochReport(epoch: epoch, steps: steps, loss: total, learningRate: learningRate, seconds: start.secondsElapsed,
                                 allreduceMilliseconds: communicator.size > 1 && steps > 0 ? (allreduceSeconds - epochAllreduce) * 1000 / Double(steps) : nil)
        return (report, stop)
    }

    /// One optimizer step on this rank's `indices`; returns the loss sums over the whole global batch.
    public func trainStep(epoch: Int, step: Int, indices: ArraySlice<Int>, learningRate: Float) throws -> (loss: LossSums, stopSignal: Int32) {
        if let failure = injectedFailure, failure.rank == communicator.rank, failure.step == epoch * sampler.stepsPerEpoch + step {
            throw VAEError("injected failure at step \(failure.step) (VAE_FAIL_AT_STEP)")
        }
        let p = model.parameters, microBatch = config.training.microBatch
        var local = LossSums()
        for start in stride(from: indices.startIndex, to: indices.endIndex, by: microBatch) {
            let leaf = indices[start..<(start + microBatch)], last = start + microBatch == indices.endIndex
            dataset.gather(leaf, into: batch)
            let context = StepContext(training: true, seed: UInt64(config.training.seed), epoch: epoch, sampleIndices: leaf)
            p.zeroGradients()
            let sums = model.trainStep(batch, context, rLossFactor: Float(config.training.rLossFactor), globalBatch: sampler.globalBatch,
                                       gradientsReady: last ? reduction.layerFinished : nil)
            p.trailingScalars[0] = Float(sums.reconstruction)
            p.trailingScalars[1] = Float(sums.kl)
            local += sums
            if !last { reduction.addLeaf() }
        }
        // The other leaves hold 0 here, so the sum over leaves and ranks is the sum of the ranks' signals.
        p.trailingScalars[2] = Float(stopSignal())
        // Adam moves each bucket's parameters as soon as its sum arrives, while later buckets travel.
        optimizer.advance(learningRate: learningRate)
        try reduction.finishStep { range in
            optimizer.apply(range.clamped(to: 0..<p.count), parameters: p.values, gradients: p.gradients)
        }
        p.updateRunningAverages(batches: sampler.globalBatch / microBatch)
        let loss = LossSums(reconstruction: Double(p.trailingScalars[0]), kl: Double(p.trailingScalars[1]), samples: local.samples * communicator.size)
        // Any rank's signal stops all; the summed flag is at least the signal number, so report one that was sent.
        return (loss, p.trailingScalars[2] > 0 ? (stopSignal() != 0 ? stopSignal() : SIGTERM) : 0)
    }
}
