// Trainer.run: a whole run, from the start or a checkpoint to the last epoch. After each step, in this order:
// validation, the run's log and metrics (RunLog, and TensorBoard's log), the ranks' weight check, and rank 0's
// saves (checkpoint, the best one, pictures), each when the cadence says. Only rank 0 logs and writes files.

import VAECheckpoint
import VAEMath
import VAESupport

extension Trainer {
    /// How a run ended: every epoch done, or stopped early at a step boundary by a signal.
    public enum Outcome: Equatable, Sendable {
        case completed
        case stopped(signal: Int32)
    }

    /// Trains from the start, or from the newest of the checkpoints the ranks hold (`checkpoint`: this rank's,
    /// nil if none), to the last epoch. When `resuming` was asked for and no rank holds one, rank 0 says so
    /// and the run starts from the beginning.
    @discardableResult
    public func run(resumingFrom checkpoint: LoadedCheckpoint? = nil, resuming: Bool = false,
                    log: @escaping (String) -> Void = { print($0) }) throws -> Outcome {
        let leader = communicator.rank == 0
        let newest = try newestCheckpoint(checkpoint), root = newest?.rank ?? 0
        if let checkpoint, newest?.rank == communicator.rank { try restore(checkpoint) }
        try synchronizeRanks(from: root)
        let (first, bestValidationLoss) = try broadcastProgress(from: root, newest?.step ?? 0, bestValidationLoss: checkpoint?.state.bestValidationLoss)
        if leader && resuming && newest == nil {
            log("warning: --resume: no checkpoint in \(config.output.directory)/checkpoints yet; starting from the beginning")
        }
        guard first <= cadence.totalSteps else {
            throw VAEError("the checkpoint is at step \(first), past this run's last step \(cadence.totalSteps) "
                           + "(training.epochs \(config.training.epochs) of \(sampler.stepsPerEpoch) steps): raise training.epochs to go on")
        }
        let runLog = try RunLog(trainer: self, first: first, say: leader ? log : nil, resuming: newest != nil)
        let replica = try replicaRanks().contains(communicator.rank)
        let writers = leader || replica
            ? try Saves(trainer: self, into: leader ? config.output.directory : config.checkpoint.replicaDirectory, drawsPictures: leader,
                        bestValidationLoss: bestValidationLoss, tensorBoard: runLog.tensorBoard) : nil
        let validation = try Validation.load(config).map {
            Validation(images: $0, architecture: config.architecture, convolutionBackend: config.training.convBackend)
        }
        runLog.say("training \(dataset.count) images of \(formatShape(dataset.imageShape)) from \(dataset.path)"
                   + (dataset.skipped.isEmpty ? "" : " (\(dataset.skipped.count) undecodable files skipped)") + ": "
                   + "\(model.parameters.count) parameters, \(sampler.stepsPerEpoch) steps of \(sampler.globalBatch) per epoch"
                   + (communicator.size > 1 ? " over \(communicator.size) ranks" : "")
                   + (newest.map { ", resuming from \($0.path)" + ($0.rank == 0 ? "" : " (rank \($0.rank)'s copy)") + " at step \(first)" } ?? ""))
        let signal = try watched(from: first, writers: writers) {
            defer { writers?.finishQuietly().forEach(runLog.say) }  // after an error: the saves in flight land
            let signal = try loop(first..<cadence.totalSteps) { step, result in
                let done = step + 1
                try writers?.collect().forEach(runLog.say)
                let validated = try validation.flatMap { cadence.validates(after: done) ? try validate(on: $0, after: done) : nil }
                if let report = runLog.record(result, step: step, validation: validated) { reports.append(report) }
                if communicator.size > 1 && cadence.checksWeights(after: done) { try checkRanksAgree(after: done) }
                if let writers {
                    watchdog?.mark(.waitingForWriter(afterStep: done))
                    runLog.saveWaitSeconds += try writers.save(after: done, stopping: result.stopSignal != nil, validation: validated)
                }
                runLog.stepEnded()
            }
            watchdog?.mark(.waitingForWriter(afterStep: runLog.done))
            try writers?.finish().forEach(runLog.say)
            return signal
        }
        guard let signal else { return .completed }
        runLog.say("stopped by signal \(signal) at step \(runLog.done); resume with --resume")
        return .stopped(signal: signal)
    }

    /// Every rank at once: the validation loss of the weights the run shows (their average when kept).
    private func validate(on validation: Validation, after done: Int) throws -> LossSums {
        watchdog?.mark(.writing("the validation", afterStep: done))
        let p = model.parameters
        return try (trace?.timeline).span("validation") {
            try validation.evaluate(weights: UnsafePointer(average?.values.baseAddress ?? p.values), statistics: p, klWeight: Float(config.loss.beta),
                                    rLossFactor: Float(config.loss.rLossFactor), seed: UInt64(config.training.seed), communicator: communicator)
        }
    }
}
