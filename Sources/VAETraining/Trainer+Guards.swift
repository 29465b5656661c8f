// The trainer's guards against numbers gone wrong. A step whose loss or gradients went non-finite on any rank
// is known to every rank in the same step (StepExchange's counts), is never applied, and then either ends the
// run or is skipped, as training.on_nonfinite says; the ranks are named by an allgather on that rare step
// only. A step whose summed gradient's norm is above training.skip_grad_norm is skipped too (every rank
// measures the same norm). Skipped steps count against training.max_skipped_steps. Every
// watchdog.check_every_steps steps the ranks compare a hash of their weights, so ranks that have drifted
// apart without an error (a flipped bit, a nondeterministic kernel) stop the run by name.

import Crypto
import VAESupport

/// A step that some rank found non-finite: which step, and on which ranks the loss and the gradients went.
public struct NonfiniteStep: Equatable, Sendable, CustomStringConvertible {
    /// 1-based: the step that would have made `step` steps done.
    public let step: Int
    public let lossRanks: [Int]
    public let gradientRanks: [Int]

    /// "step 6: the gradients went non-finite on rank 1", or both parts when both went.
    public var description: String {
        let what: String
        switch (lossRanks.isEmpty, gradientRanks.isEmpty) {
        case (false, true): what = "the loss went non-finite on \(rankList(lossRanks))"
        case (true, false): what = "the gradients went non-finite on \(rankList(gradientRanks))"
        case _ where lossRanks == gradientRanks: what = "the loss and the gradients went non-finite on \(rankList(lossRanks))"
        default: what = "the loss went non-finite on \(rankList(lossRanks)) and the gradients on \(rankList(gradientRanks))"
        }
        return "step \(step): \(what)"
    }
}

/// A step dropped without moving a weight, and why.
public enum SkippedStep: Equatable, Sendable, CustomStringConvertible {
    case nonfinite(NonfiniteStep)
    /// `step` 1-based, as NonfiniteStep's.
    case largeGradient(step: Int, norm: Double, limit: Double)

    /// "step 6: the gradients went non-finite on rank 1; skipped (training.on_nonfinite: skip)".
    public var description: String {
        switch self {
        case .nonfinite(let step): "\(step); skipped (training.on_nonfinite: skip)"
        case .largeGradient(let step, let norm, let limit):
            "step \(step): the gradient's norm \(String(format: "%.4g", norm)) is above training.skip_grad_norm (\(String(format: "%g", limit))); skipped"
        }
    }
}

/// "rank 1" or "ranks 0, 3".
func rankList(_ ranks: [Int]) -> String {
    (ranks.count == 1 ? "rank " : "ranks ") + ranks.map(String.init).joined(separator: ", ")
}

extension Trainer {
    /// On a step whose exchange says some rank went non-finite (every rank calls this in the same step, as the
    /// allgather needs): names the ranks; throws when training.on_nonfinite says to stop.
    func nonfiniteStep(_ step: Int) throws -> NonfiniteStep {
        let sent = reduction.exchange.sent
        let verdicts = try communicator.allgather([sent.loss ? 1 : 0, sent.gradients ? 1 : 0])
        let dropped = NonfiniteStep(step: step + 1, lossRanks: verdicts.indices.filter { verdicts[$0][0] != 0 },
                                    gradientRanks: verdicts.indices.filter { verdicts[$0][1] != 0 })
        guard config.training.onNonfinite == .skip else {
            throw VAEError("\(dropped); the run stops without taking the step (training.on_nonfinite: stop; or try a lower learning_rate.base)")
        }
        return dropped
    }

    /// Counts a skipped step; throws once more than training.max_skipped_steps were skipped in this run.
    func skip(_ skipped: SkippedStep) throws -> SkippedStep {
        skippedSteps += 1
        let most = config.training.maxSkippedSteps
        guard skippedSteps <= most else {
            let what = switch skipped {
            case .nonfinite(let step): "\(step)"
            case .largeGradient: skipped.description.replacing("; skipped", with: "")
            }
            throw VAEError("\(what); that makes \(skippedSteps) skipped in this run, more than training.max_skipped_steps (\(most))")
        }
        return skipped
    }

    /// The watchdog, after `done` steps: every rank's SHA-256 of its weights (trained and state), the first 8
    /// bytes of it, must match rank 0's.
    func checkRanksAgree(after done: Int) throws {
        watchdog?.mark(.writing("the ranks' weight check", afterStep: done))
        try (trace?.timeline).span("weight check") { try ranksHoldTheSameWeights(after: done) }
    }

    private func ranksHoldTheSameWeights(after done: Int) throws {
        let p = model.parameters
        var hash = SHA256()
        hash.update(bufferPointer: UnsafeRawBufferPointer(p.valueBuffer))
        hash.update(bufferPointer: UnsafeRawBufferPointer(p.stateBuffer))
        let differing = try ranksDifferingFromRankZero(Array(hash.finalize().prefix(8)))
        guard differing.isEmpty else {
            throw VAEError("step \(done): the weights of \(rankList(differing)) differ from rank 0's (watchdog.check_every_steps): the ranks have drifted apart; resume from the newest checkpoint")
        }
    }

    /// Allgathers `record` and returns the ranks whose record is not rank 0's.
    func ranksDifferingFromRankZero(_ record: [UInt8]) throws -> [Int] {
        let records = try communicator.allgather(record)
        return records.indices.filter { records[$0] != records[0] }
    }
}
