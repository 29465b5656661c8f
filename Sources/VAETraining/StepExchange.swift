// StepExchange: what crosses the wire each step besides the gradients. The model's reduction buffer is
//   [gradients | batch statistics | loss sums and stop requests]
// and every field is a sum over micro-batches and ranks, so it rides in the gradients' pairwise tree and
// allreduce (in the last bucket) and needs no message of its own:
//   batch statistics      declared by the layers (BatchNorm's μ and σ²), averaged into running statistics
//   reconstruction, kl    each micro-batch's loss sums; summed, the global batch's
//   stop requests         per signal, how many ranks caught it this step (whole numbers: exact as Floats)

import Foundation
import VAEMath

struct StepExchange {
    /// The scalars after the batch statistics, in this order.
    enum Field: Int, CaseIterable {
        case reconstruction, kl, terminateRequests, interruptRequests
    }

    /// How many Floats the trainer reserves at the end of the model's reduction buffer.
    static let reservedFloats = Field.allCases.count

    private let parameters: ParameterStore

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

    /// After the allreduce: the global batch's loss sums over `samples` images.
    func loss(samples: Int) -> LossSums {
        LossSums(reconstruction: Double(field(.reconstruction).pointee), kl: Double(field(.kl).pointee), samples: samples)
    }

    /// After the allreduce: the signal that stops every rank at this step (SIGTERM before SIGINT), or nil.
    var stopSignal: Int32? {
        if field(.terminateRequests).pointee > 0 { return SIGTERM }
        if field(.interruptRequests).pointee > 0 { return SIGINT }
        return nil
    }
}
