// StepExchange: what crosses the wire each step besides the gradients. The model's reduction buffer is
//   [gradients | batch statistics | loss sums, stop requests, non-finite counts]
// and every field is a sum over micro-batches and ranks, so it rides in the gradients' pairwise tree and
// allreduce (in the last bucket) and needs no message of its own:
//   batch statistics      declared by the layers (BatchNorm's μ and σ²), averaged into running statistics
//   reconstruction, kl    each micro-batch's loss sums; summed, the global batch's
//   stop requests         per signal, how many ranks caught it this step (whole numbers: exact as Floats)
//   non-finite counts     how many ranks' loss, and how many ranks' gradients, went NaN or infinite this step
// A rank's gradients are checked as each bucket leaves it, since a bucket in flight may not be read; the
// verdict is written into the tail, which leaves last, so every rank knows of any rank's NaN in the same step.

import Foundation
import VAEMath

final class StepExchange {
    /// The scalars after the batch statistics, in this order.
    enum Field: Int, CaseIterable {
        case reconstruction, kl, terminateRequests, interruptRequests, nonfiniteLossRanks, nonfiniteGradientRanks
    }

    /// How many Floats the trainer reserves at the end of the model's reduction buffer.
    static let reservedFloats = Field.allCases.count

    /// What this rank found in its own share of the step, as it sent it.
    struct Verdict: Equatable {
        var loss = false, gradients = false
        var isFinite: Bool { !loss && !gradients }
    }

    private let parameters: ParameterStore
    /// Σ g² over this rank's gradients in the buckets sent so far this step.
    private var gradientSquares: Float = 0
    /// This rank's verdict on the step last sent.
    private(set) var sent = Verdict()

    init(parameters: ParameterStore) {
        precondition(parameters.reservedRange.count == Self.reservedFloats, "the model was built without the step's reserved Floats")
        self.parameters = parameters
    }

    private func field(_ field: Field) -> UnsafeMutablePointer<Float> {
        parameters.reductionBuffer.baseAddress! + parameters.reservedRange.lowerBound + field.rawValue
    }

    /// After a micro-batch's backward pass (the buffer was zeroed before it): its loss sums.
    func record(_ loss: LossSums) {
        field(.reconstruction).pointee = Float(loss.reconstruction)
        field(.kl).pointee = Float(loss.kl)
    }

    /// On the step's last micro-batch: this rank's stop request, if a signal arrived.
    func request(stop signal: Int32) {
        switch signal {
        case SIGTERM: field(.terminateRequests).pointee = 1
        case SIGINT: field(.interruptRequests).pointee = 1
        default: break
        }
    }

    /// Called by GradientReduction as `range` of the buffer, this rank's sum over its micro-batches, is about to
    /// be sent: the last moment this rank's own numbers are there. Folds its gradients into this rank's check (one
    /// vectorised pass, Kernels.sumOfSquares); on the last bucket, the one holding these fields, writes this rank's
    /// verdict, which every bucket is in by then.
    func check(outgoing range: Range<Int>) {
        let gradients = range.clamped(to: 0..<parameters.count)
        gradientSquares += Kernels.sumOfSquares(parameters.gradients + gradients.lowerBound, count: gradients.count)
        guard range.contains(parameters.reservedRange.lowerBound) else { return }
        sent = Verdict(loss: !(field(.reconstruction).pointee.isFinite && field(.kl).pointee.isFinite), gradients: !gradientSquares.isFinite)
        field(.nonfiniteLossRanks).pointee = sent.loss ? 1 : 0
        field(.nonfiniteGradientRanks).pointee = sent.gradients ? 1 : 0
        gradientSquares = 0
    }

    /// What the exchange says once summed over every rank.
    struct Sums {
        /// Whether every rank's loss and gradients were finite: the step's verdict.
        let allFinite: Bool
        /// The signal that stops every rank at this step (SIGTERM before SIGINT), or nil.
        let stopSignal: Int32?
        /// The global batch's loss sums.
        let reconstruction, kl: Double

        func loss(samples: Int) -> LossSums { LossSums(reconstruction: reconstruction, kl: kl, samples: samples) }
    }

    /// After the allreduce of the last bucket.
    var sums: Sums {
        Sums(allFinite: field(.nonfiniteLossRanks).pointee == 0 && field(.nonfiniteGradientRanks).pointee == 0,
             stopSignal: field(.terminateRequests).pointee > 0 ? SIGTERM : field(.interruptRequests).pointee > 0 ? SIGINT : nil,
             reconstruction: Double(field(.reconstruction).pointee), kl: Double(field(.kl).pointee))
    }
}
