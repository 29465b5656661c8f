// Trainer: the data-parallel training loop. Every rank holds the whole model. One step, as `step` reads:
//   1. gather this rank's slice of the global batch, micro-batch by micro-batch;
//   2. forward and backward each micro-batch into the flat gradient buffer (scaled by the global batch);
//   3. reduce: GradientReduction sums the micro-batch gradients as a pairwise tree and over the ranks, bucket by
//      bucket while the last backward pass runs, with the step's exchange (loss sums, stop requests,
//      non-finite counts, batch statistics) in the last bucket;
//   4. check the verdict: a step that went non-finite on any rank moves nothing (Trainer+Guards.swift);
//   5. update: Adam moves each bucket's weights as soon as its global sum arrives (or, to clip the gradient
//      or skip the step by its norm, once every bucket is in), and the weights' moving average follows.
// With power-of-two rank counts the whole sum is one fixed binary tree over micro-batches, so the run is
// bit-identical at 1, 2, 4, … ranks; at other counts too when each rank holds a power-of-two number of
// micro-batches, and the same bits on every rank always. What happens between steps (logs, metrics,
// checkpoints, pictures, the weight check) is `run`'s (Trainer+Run.swift); a trace wraps steps from outside
// (Trainer+Trace.swift).

import Foundation
import VAECheckpoint
import VAECommunication
import VAEConfig
import VAEData
import VAEMath
import VAESupport

public final class Trainer {
    public let config: TrainingConfig
    public let communicator: Communicator
    public let dataset: ImageDataset
    public let model: VariationalAutoencoder
    public let optimizer: Adam
    /// The weights' moving average (training.ema_decay); nil without one.
    public let average: WeightAverage?
    public let sampler: EpochSampler
    let cadence: Cadence
    /// Where each step's images come from: the data set; the trace and the fault-injection binary wrap it.
    public var images: any BatchSource
    /// Rank 0's live line on a terminal (set by the CLI); when set, it replaces the interval progress lines.
    public var liveProgress: LiveProgress?
    /// What draws rank 0's pictures after an epoch, made from the model to draw with (a copy of the weights, on
    /// the pictures' own thread); nil: no pictures. The CLI sets `SampleWriter`'s.
    public var pictures: ((VariationalAutoencoder) throws -> PictureWriting)?
    /// Polled once per step (the CLI's signal handlers); a signal number, or 0. Any rank's signal stops every
    /// rank at the same step, through the step's exchange.
    public var stopSignal: () -> Int32 = { 0 }
    public internal(set) var reports: [EpochReport] = []
    /// Steps dropped as non-finite in this run (training.on_nonfinite: skip).
    public internal(set) var skippedSteps = 0
    private let batch: Tensor
    let reduction: GradientReduction
    private var epochOrder: (epoch: Int, order: [Int]) = (-1, [])
    /// Watches the loop while `train(steps:)` or `run` goes on; nil with watchdog.timeout_s 0.
    var watchdog: StallWatchdog?
    /// Set by `startTrace`.
    var trace: StepTrace?

    /// Wall time spent in the gradient allreduce's calls since the trainer was made.
    public var allreduceSeconds: Double { reduction.seconds }
    /// How many allreduces a step starts.
    public var bucketCount: Int { reduction.buckets.count }
    /// Each bucket's floats, in the order they are sent; the last is the tail.
    public var bucketFloats: [Int] { reduction.buckets.map(\.range.count) }

    /// `log` takes rank 0's lines while a folder's cache is built, and its warnings about skipped files.
    public convenience init(config: TrainingConfig, communicator: Communicator = SingleProcessCommunicator(),
                            log: @escaping (String) -> Void = { print($0) }) throws {
        let say = communicator.rank == 0 ? log : nil
        let build = CacheBuild(part: communicator.localRank, parts: communicator.localSize, barrier: communicator.barrier, progress: say)
        let dataset: ImageDataset
        do {
            dataset = try ImageDataset.load(config.data.train, folder: config.data.folderSettings, imageShape: config.model.inputShape,
                                            limit: config.data.limit, build: build)
        } catch let error as VAEError { throw VAEError("data.train: \(error.message)") }
        for skipped in dataset.skipped { say?("warning: skipped \(skipped)") }
        try self.init(config: config, dataset: dataset, communicator: communicator)
    }

    /// Trains on `dataset`, the images config.data.train names.
    public init(config: TrainingConfig, dataset: ImageDataset, communicator: Communicator) throws {
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
        self.dataset = dataset
        images = DatasetBatches(dataset)
        try dataset.check(fits: config.architecture, source: "data.train")
        guard dataset.count >= globalBatch else {
            throw VAEError("data.train: \(dataset.path) has \(dataset.count) images, fewer than one batch (training.batch_size \(globalBatch))")
        }
        let seed = UInt64(config.training.seed)
        model = VariationalAutoencoder(config.architecture, seed: seed, convolutionBackend: config.training.convBackend,
                                       reservedTail: StepExchange.reservedFloats)
        optimizer = Adam(parameterCount: model.parameters.count)
        average = config.training.emaDecay > 0 ? WeightAverage(decay: Float(config.training.emaDecay), of: model.parameters) : nil
        sampler = EpochSampler(sampleCount: dataset.count, globalBatch: globalBatch, seed: seed)
        cadence = Cadence(config, stepsPerEpoch: sampler.stepsPerEpoch)
        batch = Tensor(batch: microBatch, itemShape: dataset.imageShape)
        reduction = GradientReduction(parameters: model.parameters, layerRanges: model.backwardParameterRanges,
                                      overlap: config.allreduce.overlap, bucketFloats: config.allreduce.bucketKB * 1024 / MemoryLayout<Float>.size,
                                      compression: config.allreduce.compression, algorithm: config.allreduce.algorithm, communicator: communicator)
        communicator.waitLimit = config.watchdog.timeoutSeconds > 0 ? .seconds(config.watchdog.timeoutSeconds) : nil
    }

    /// What one step leaves every rank with.
    public struct StepResult: Sendable {
        /// Summed over the global batch, the KL term weighted as the step weighed it.
        public let loss: LossSums
        /// The signal that stops every rank after this step, if any rank caught one.
        public let stopSignal: Int32?
        /// Set when the step was dropped (non-finite, or its gradient's norm too large); `loss` then means nothing.
        public let skipped: SkippedStep?
        /// The summed gradient's global L2 norm, where it was measured: every step that clips or may skip by it,
        /// otherwise each step that rank 0 logs.
        public let gradientNorm: Double?
        /// The KL term's weight this step.
        public let klWeight: Float
    }

    /// One optimizer step, global step `step` (0-based). A step that went non-finite on any rank updates
    /// nothing, and throws or comes back `skipped` (Trainer+Guards.swift).
    public func step(_ step: Int) throws -> StepResult {
        let (epoch, stepInEpoch) = cadence.epoch(of: step)
        if epochOrder.epoch != epoch { epochOrder = (epoch, sampler.order(epoch: epoch)) }
        let mine = sampler.indices(in: epochOrder.order, step: stepInEpoch, rank: communicator.rank, worldSize: communicator.size)
        let p = model.parameters, microBatch = config.training.microBatch, exchange = reduction.exchange
        let klWeight = config.klWeight(step: step)
        var samples = 0
        for start in stride(from: mine.startIndex, to: mine.endIndex, by: microBatch) {
            let leaf = mine[start..<(start + microBatch)], last = leaf.endIndex == mine.endIndex
            watchdog?.mark(.computing(step: step + 1))
            p.zeroGradients()
            images.gather(leaf, into: batch)
            let context = StepContext(training: true, seed: UInt64(config.training.seed), epoch: epoch, sampleIndices: leaf)
            let sums = model.forwardBackward(batch, context, rLossFactor: Float(config.loss.rLossFactor), klWeight: klWeight,
                                             globalBatch: sampler.globalBatch, gradientsReady: last ? reduction.layerFinished : nil)
            exchange.record(sums)
            samples += sums.samples
            if !last { reduction.addLeaf() }
        }
        exchange.request(stop: stopSignal())
        watchdog?.mark(.exchanging(step: step + 1))
        let summed = try reduction.finish()
        let loss = summed.loss(samples: samples * communicator.size).weighting(kl: klWeight)
        func result(skipped: SkippedStep?, norm: Double?) -> StepResult {
            StepResult(loss: loss, stopSignal: summed.stopSignal, skipped: skipped, gradientNorm: norm, klWeight: klWeight)
        }
        guard summed.allFinite else {
            try reduction.discard()
            return result(skipped: try skip(.nonfinite(try nonfiniteStep(step))), norm: nil)
        }
        let (norm, skipped) = try update(step: step)
        if skipped == nil {
            p.updateRunningAverages(batches: sampler.globalBatch / microBatch)
            average?.update(from: p)
        }
        return result(skipped: skipped, norm: norm)
    }

    /// Adam's update with the step's summed gradients, bucket by bucket as each sum arrives; with
    /// training.clip_grad_norm or skip_grad_norm, once every bucket is in, since those need the whole gradient's
    /// norm. Returns the norm where it was measured, and the skip it caused.
    private func update(step: Int) throws -> (norm: Double?, skipped: SkippedStep?) {
        let p = model.parameters, clip = config.training.clipGradNorm, limit = config.training.skipGradNorm
        let norm = { Kernels.l2Norm(p.gradients, count: p.count) }
        guard clip > 0 || limit > 0 else {
            optimizer.advance(learningRate: learningRate(step: step))
            while let bucket = try reduction.nextSum() {
                optimizer.apply(bucket.clamped(to: 0..<p.count), parameters: p.values, gradients: p.gradients)
            }
            return (communicator.rank == 0 && cadence.logs(after: step + 1) ? norm() : nil, nil)
        }
        while try reduction.nextSum() != nil {}
        let whole = norm()
        if limit > 0 && whole > limit { return (whole, try skip(.largeGradient(step: step + 1, norm: whole, limit: limit))) }
        if clip > 0 && whole > clip {
            let scale = Float(clip / whole)
            for i in 0..<p.count { p.gradients[i] *= scale }
        }
        optimizer.update(parameters: p.values, gradients: p.gradients, learningRate: learningRate(step: step))
        return (whole, nil)
    }

    /// The learning rate global step `step` (0-based) takes: the step decay of its epoch, during
    /// learning_rate.warmup_steps its share of the warm-up.
    public func learningRate(step: Int) -> Float {
        config.learningRates.learningRate(step: step, epoch: cadence.epoch(of: step).epoch)
    }

    /// The loop: global steps `steps`, each followed by `after`, ending early after a step that a signal stops.
    /// `vae bench` hangs its timers on `after`. A wait that runs past watchdog.timeout_s, and a rank making no
    /// progress for that long, end the job.
    @discardableResult
    public func train(steps: Range<Int>, after: (_ step: Int, _ result: StepResult) throws -> Void = { _, _ in }) throws -> Int32? {
        try watched(from: steps.lowerBound) { try loop(steps, after: after) }
    }

    func loop(_ steps: Range<Int>, after: (_ step: Int, _ result: StepResult) throws -> Void) throws -> Int32? {
        for index in steps {
            do {
                let result = try trace.traced(step: index, of: self) { try step(index) }
                try after(index, result)
                if let signal = result.stopSignal { return signal }
            } catch let error as CommunicationError {
                throw VAEError("step \(index + 1): \(error.message)"
                               + (error.timedOut ? " within watchdog.timeout_s (\(String(format: "%g", config.watchdog.timeoutSeconds)) s); ending the job" : ""))
            }
        }
        return nil
    }

    /// Runs `body` with the stall watchdog on (watchdog.timeout_s > 0), watching the rank's `writers` too when given.
    func watched<T>(from first: Int, writers: Saves? = nil, _ body: () throws -> T) throws -> T {
        let timeout = config.watchdog.timeoutSeconds
        if timeout > 0 {
            // Weak: the thread may outlive the loop by a poll, and must not keep MPI from finalizing.
            nonisolated(unsafe) weak let communicator = communicator
            watchdog = StallWatchdog(limit: .seconds(timeout), starting: .computing(step: first + 1), background: writers?.activity) { message in
                FileHandle.standardError.write(Data("error: \(communicator?.rankLabel ?? "")\(message)\n".utf8))
                guard let communicator else { exit(2) }
                communicator.abort(code: 2)
            }
        }
        defer {
            watchdog?.stop()
            watchdog = nil
        }
        return try body()
    }
}
