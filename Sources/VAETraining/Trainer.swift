// Trainer: the data-parallel training loop. Every rank holds the whole model; each step, rank r gathers its
// slice of the global batch, runs forward and backward micro-batch by micro-batch into the flat gradient
// buffer (scaled by the global batch), and GradientReduction sums the micro-batch gradients as a pairwise
// tree and over the ranks, bucket by bucket during the last backward pass, with the step's exchange (loss
// sums, stop requests, non-finite counts, batch statistics) in the last bucket, so every rank takes the same
// Adam step with the global mean gradient. With power-of-two rank counts the whole sum is one fixed binary
// tree over micro-batches, so the run is bit-identical at 1, 2, 4, … ranks; at other counts too when each
// rank holds a power-of-two number of micro-batches, and the same bits on every rank always. A step whose
// loss or gradients went non-finite on any rank is not applied (Trainer+Guards.swift). When to log,
// checkpoint, check that the ranks agree and draw samples is the schedule's business; rank 0 alone logs
// and writes files, its checkpoints and pictures on a thread of their own (SnapshotWriter).

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
    public let sampler: EpochSampler
    let schedule: TrainingSchedule
    /// Rank 0's live line on a terminal (set by the CLI); when set, it replaces the interval progress lines.
    public var liveProgress: LiveProgress?
    /// What draws rank 0's pictures after an epoch, made from the model to draw with (a copy of the weights, on
    /// the pictures' own thread); nil: no pictures. The CLI sets `SampleWriter`'s.
    public var pictures: ((VariationalAutoencoder) throws -> PictureWriting)?
    /// Polled once per step (the CLI's signal handlers); a signal number, or 0. Any rank's signal stops every
    /// rank at the same step, through the step's exchange.
    public var stopSignal: () -> Int32 = { 0 }
    /// Called with (global step, micro-batch of the step) before each micro-batch's forward pass, its gradients
    /// zeroed: where the test-only `vae-fault-injection` poisons a gradient or nudges a weight. Nil in `vae`.
    public var beforeMicroBatch: ((_ step: Int, _ microBatch: Int) -> Void)?
    public private(set) var reports: [EpochReport] = []
    /// Steps dropped as non-finite in this run (training.on_nonfinite: skip).
    public internal(set) var skippedSteps = 0
    private let batch: Tensor
    private let reduction: GradientReduction
    let exchange: StepExchange
    private var epochOrder: (epoch: Int, order: [Int]) = (-1, [])
    /// Watches the loop while `train(steps:)` runs; nil with watchdog.timeout_s 0.
    private var watchdog: StallWatchdog?
    /// Set by `startTrace`; and the steps traced in detail so far.
    private(set) var timeline: Timeline?
    private var tracedSteps = 0

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
        let input = config.model, dataset: ImageDataset
        do {
            dataset = try ImageDataset.load(config.data.train, data: config.data, imageShape: [input.inputHeight, input.inputWidth, input.inputChannels],
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
        try dataset.check(fits: config.model, source: "data.train")
        guard dataset.count >= globalBatch else {
            throw VAEError("data.train: \(dataset.path) has \(dataset.count) images, fewer than one batch (training.batch_size \(globalBatch))")
        }
        let seed = UInt64(config.training.seed)
        model = VariationalAutoencoder(config.model, seed: seed, convolutionBackend: config.training.convBackend,
                                       reservedTail: StepExchange.reservedFloats)
        optimizer = Adam(parameterCount: model.parameters.count)
        sampler = EpochSampler(sampleCount: dataset.count, globalBatch: globalBatch, seed: seed)
        schedule = TrainingSchedule(config, stepsPerEpoch: sampler.stepsPerEpoch)
        batch = Tensor(batch: microBatch, itemShape: dataset.imageShape)
        let exchange = StepExchange(parameters: model.parameters)
        self.exchange = exchange
        reduction = GradientReduction(buffer: model.parameters.reductionBuffer, layerRanges: model.backwardParameterRanges,
                                      overlap: config.allreduce.overlap, bucketFloats: config.allreduce.bucketKB * 1024 / MemoryLayout<Float>.size,
                                      compression: config.allreduce.compression,
                                      algorithm: config.allreduce.algorithm, communicator: communicator, sending: exchange.sending)
        communicator.waitLimit = config.watchdog.timeoutSeconds > 0 ? .seconds(config.watchdog.timeoutSeconds) : nil
    }

    /// How a run ended: every epoch done, or stopped early at a step boundary by a signal.
    public enum Outcome: Equatable, Sendable {
        case completed
        case stopped(signal: Int32)
    }

    /// What one step leaves every rank with.
    public struct StepResult: Sendable {
        /// Summed over the global batch.
        public let loss: LossSums
        /// The signal that stops every rank after this step, if any rank caught one.
        public let stopSignal: Int32?
        /// Set when the step was dropped as non-finite (training.on_nonfinite: skip); `loss` then means nothing.
        public let skipped: NonfiniteStep?
    }

    /// One optimizer step, global step `step` (0-based): gather, forward, zero, backward, reduce, update. A step
    /// that went non-finite on any rank updates nothing, and throws or comes back `skipped` (Trainer+Guards.swift).
    public func step(_ step: Int) throws -> StepResult {
        let (epoch, stepInEpoch) = schedule.epoch(of: step)
        if epochOrder.epoch != epoch { epochOrder = (epoch, sampler.order(epoch: epoch)) }
        let indices = sampler.indices(in: epochOrder.order, step: stepInEpoch, rank: communicator.rank, worldSize: communicator.size)
        let p = model.parameters, microBatch = config.training.microBatch
        let traced = timeline.flatMap { tracedSteps < $0.detailedSteps ? $0 : nil }, started = ContinuousClock.now
        tracedSteps += 1
        defer {
            traced?.record("step \(step + 1)", from: started)
            model.layerTimer = nil  // the pictures' inference is not the step's
        }
        model.layerTimer = traced.map { timeline in
            { layer, backward, start, end in timeline.record(layer + (backward ? " backward" : " forward"), from: start, to: end) }
        }
        reduction.timeline = traced
        var samples = 0
        for (index, start) in stride(from: indices.startIndex, to: indices.endIndex, by: microBatch).enumerated() {
            let leaf = indices[start..<(start + microBatch)], last = start + microBatch == indices.endIndex
            traced.span("gather") { dataset.gather(leaf, into: batch) }
            let context = StepContext(training: true, seed: UInt64(config.training.seed), epoch: epoch, sampleIndices: leaf)
            p.zeroGradients()
            watchdog?.mark(.computing(step: step + 1))
            beforeMicroBatch?(step, index)
            let sums = model.trainStep(batch, context, rLossFactor: Float(config.training.rLossFactor), globalBatch: sampler.globalBatch,
                                       gradientsReady: last ? reduction.layerFinished : nil)
            exchange.record(sums)
            samples += sums.samples
            if !last { reduction.addLeaf() }
        }
        exchange.request(stop: stopSignal())
        watchdog?.mark(.exchanging(step: step + 1))
        // Once the tail says every rank was finite, Adam moves each bucket's parameters as soon as its sum
        // arrives, while later buckets travel; otherwise nothing moves, Adam's step count included.
        try reduction.finishStep(proceed: {
            guard exchange.allFinite else { return false }
            optimizer.advance(learningRate: learningRate(step: step))
            return true
        }) { range in
            optimizer.apply(range.clamped(to: 0..<p.count), parameters: p.values, gradients: p.gradients)
        }
        let skipped = exchange.allFinite ? nil : try dropNonfiniteStep(step)
        if skipped == nil { p.updateRunningAverages(batches: sampler.globalBatch / microBatch) }
        return StepResult(loss: exchange.loss(samples: samples * communicator.size), stopSignal: exchange.stopSignal, skipped: skipped)
    }

    /// The learning rate global step `step` (0-based) takes: the step decay of its epoch, during
    /// schedule.warmup_steps its share of the warm-up.
    public func learningRate(step: Int) -> Float {
        config.learningRates.learningRate(step: step, epoch: schedule.epoch(of: step).epoch)
    }

    /// The loop: global steps `steps`, each followed by `after`, ending early after a step that a signal stops.
    /// Nothing else happens here; `run` hangs its schedule on `after`, `vae bench` its timers.
    /// A wait that runs past watchdog.timeout_s, and a rank making no progress for that long, end the job.
    @discardableResult
    public func train(steps: Range<Int>, after: (_ step: Int, _ result: StepResult) throws -> Void = { _, _ in }) throws -> Int32? {
        try watched(from: steps.lowerBound) { try loop(steps, after: after) }
    }

    private func loop(_ steps: Range<Int>, after: (_ step: Int, _ result: StepResult) throws -> Void) throws -> Int32? {
        for index in steps {
            do {
                let result = try step(index)
                try after(index, result)
                if let signal = result.stopSignal { return signal }
            } catch let error as CommunicationError {
                throw VAEError("step \(index + 1): \(error.message)"
                               + (error.timedOut ? " within watchdog.timeout_s (\(String(format: "%g", config.watchdog.timeoutSeconds)) s); ending the job" : ""))
            }
        }
        return nil
    }

    /// Runs `body` with the stall watchdog on (watchdog.timeout_s > 0), watching rank 0's `writers` too when given.
    private func watched<T>(from first: Int, writers: RankZeroWriters? = nil, _ body: () throws -> T) throws -> T {
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

    /// Every rank at once: from now on each rank records its timeline, in detail for its first `detailedSteps` steps.
    public func startTrace(detailedSteps: Int) throws {
        timeline = try Timeline(detailedSteps: detailedSteps, communicator: communicator)
    }

    /// Every rank at once: rank 0 writes every rank's timeline to `path` as Chrome trace events.
    public func writeTrace(to path: String) throws { try timeline?.write(to: path, communicator: communicator) }

    /// Tells the watchdog what the ranks' checks, or rank 0's snapshots, after `done` steps are doing.
    func watching(_ what: String, afterStep done: Int) { watchdog?.mark(.writing(what, afterStep: done)) }

    /// Trains from the start, or from `checkpoint` (read by rank 0 only; nil elsewhere), to the last epoch.
    /// Only rank 0 calls `log` and writes files.
    @discardableResult
    public func run(resumingFrom checkpoint: LoadedCheckpoint? = nil, log: @escaping (String) -> Void = { print($0) }) throws -> Outcome {
        let leader = communicator.rank == 0
        if let checkpoint { try restore(checkpoint) }
        try synchronizeRanks()
        let first = try broadcastProgress(checkpoint?.state.step ?? 0)
        guard first <= schedule.totalSteps else {
            throw VAEError("the checkpoint is at step \(first), past this run's last step \(schedule.totalSteps) "
                           + "(training.epochs \(config.training.epochs) of \(sampler.stepsPerEpoch) steps): raise training.epochs to go on")
        }
        let metrics = leader ? try MetricsLog(directory: config.output.directory, appending: checkpoint != nil, warn: log) : nil
        let writers = leader ? try RankZeroWriters(trainer: self) : nil
        let say = leader ? log : { _ in }
        say("training \(dataset.count) images of \(formatShape(dataset.imageShape)) from \(dataset.path)"
            + (dataset.skipped.isEmpty ? "" : " (\(dataset.skipped.count) undecodable files skipped)") + ": "
            + "\(model.parameters.count) parameters, \(sampler.stepsPerEpoch) steps of \(sampler.globalBatch) per epoch"
            + (communicator.size > 1 ? " over \(communicator.size) ranks" : "")
            + (checkpoint.map { ", resuming from \($0.path) at step \(first)" } ?? ""))
        var epochMeter = Meter(allreduceSeconds: allreduceSeconds), intervalMeter = epochMeter, done = first
        let signal = try watched(from: first, writers: writers) {
            defer { for line in writers?.finishQuietly() ?? [] { say(line) } }  // after an error: the saves in flight land
            let signal = try loop(first..<schedule.totalSteps) { step, result in
                let (epoch, stepInEpoch) = schedule.epoch(of: step)
                done = step + 1
                let learningRate = self.learningRate(step: step)
                if stepInEpoch == 0 || step == first {
                    epochMeter = Meter(allreduceSeconds: allreduceSeconds)
                    intervalMeter = epochMeter
                }
                for line in try writers?.collect() ?? [] { say(line) }
                if let skipped = result.skipped { say("warning: \(skipped); skipped (training.on_nonfinite: skip), \(skippedSteps) in this run") }
                epochMeter.add(result)
                intervalMeter.add(result)
                liveProgress?.update(epoch: epoch, of: schedule.epochs, step: stepInEpoch + 1, of: sampler.stepsPerEpoch,
                                     stepsTaken: epochMeter.steps, loss: epochMeter.loss, seconds: epochMeter.started.secondsElapsed)
                if schedule.logs(after: done) {
                    let seconds = intervalMeter.started.secondsElapsed
                    metrics?.recordInterval(step: done, epoch: epoch, loss: intervalMeter.loss, learningRate: learningRate, seconds: seconds,
                                            allreduceMilliseconds: intervalMeter.allreduceMilliseconds(now: allreduceSeconds))
                    if liveProgress == nil {
                        say(String(format: "  epoch %d step %d/%d  loss %.3f  images/s %.0f", epoch + 1, stepInEpoch + 1, sampler.stepsPerEpoch,
                                   intervalMeter.loss.meanLoss, Double(intervalMeter.loss.samples) / max(seconds, 1e-9)))
                    }
                    intervalMeter = Meter(allreduceSeconds: allreduceSeconds)
                }
                if schedule.endsEpoch(done) || result.stopSignal != nil {
                    let report = EpochReport(epoch: epoch, steps: epochMeter.steps, skippedSteps: epochMeter.skipped, loss: epochMeter.loss,
                                             learningRate: learningRate, seconds: epochMeter.started.secondsElapsed,
                                             allreduceMilliseconds: communicator.size > 1 ? epochMeter.allreduceMilliseconds(now: allreduceSeconds) : nil,
                                             saveWaitSeconds: epochMeter.saveWaitSeconds)
                    metrics?.record(report, step: done)
                    say(report.line)
                    reports.append(report)
                }
                if communicator.size > 1 && schedule.checksWeights(after: done) {
                    watching("the ranks' weight check", afterStep: done)
                    try timeline.span("weight check") { try checkRanksAgree(after: done) }
                }
                if let writers {
                    watchdog?.mark(.waitingForWriter(afterStep: done))
                    epochMeter.saveWaitSeconds += try writers.save(after: done, stopping: result.stopSignal != nil)
                }
            }
            watchdog?.mark(.waitingForWriter(afterStep: done))
            for line in try writers?.finish() ?? [] { say(line) }
            return signal
        }
        guard let signal else { return .completed }
        say("stopped by signal \(signal) at step \(done); resume with --resume")
        return .stopped(signal: signal)
    }
}

/// Loss, steps and allreduce time since a point in the run: an epoch's or a log interval's.
private struct Meter {
    let started = ContinuousClock.now
    let allreduceSeconds: Double
    /// Over the steps taken; a skipped step's loss is not a number to average.
    private(set) var loss = LossSums()
    /// Steps run, skipped ones included.
    private(set) var steps = 0
    private(set) var skipped = 0
    /// Rank 0's waits for its writer to finish the last save before it could take the next.
    var saveWaitSeconds = 0.0

    init(allreduceSeconds: Double) { self.allreduceSeconds = allreduceSeconds }

    mutating func add(_ step: Trainer.StepResult) {
        if step.skipped == nil { loss += step.loss } else { skipped += 1 }
        steps += 1
    }

    /// Mean allreduce time per step since the start, given the trainer's total now.
    func allreduceMilliseconds(now: Double) -> Double { steps > 0 ? (now - allreduceSeconds) * 1000 / Double(steps) : 0 }
}
