// Dropout (inverted): in training, each element is kept with probability 1 − rate and scaled by 1/(1 − rate);
// in inference it is the identity. The mask is a pure function of
// (seed, epoch, global sample index, layer, element), so it does not depend on rank count or resume point.
//   backward: ∂x = ∂y · mask

public final class Dropout: Layer {
    public let rate: Float
    /// Distinguishes this layer's masks from every other dropout layer's.
    public let stream: UInt64
    private let mask, output, inputGradient: Tensor

    public init(shape: [Int], rate: Float = 0.25, stream: UInt64) {
        precondition(rate >= 0 && rate < 1, "dropout rate \(rate) not in [0, 1)")
        self.rate = rate
        self.stream = stream
        mask = Tensor(batch: 0, itemShape: shape)
        output = Tensor(batch: 0, itemShape: shape)
        inputGradient = Tensor(batch: 0, itemShape: shape)
    }

    public func forward(_ input: Tensor, _ context: StepContext) -> Tensor {
        output.resize(batch: input.batch)
        guard context.training else {
            output.copy(from: input)
            return output
        }
        precondition(context.sampleIndices.count == input.batch, "dropout needs one sample index per batch row")
        mask.resize(batch: input.batch)
        let items = input.itemCount
        let x = input.pointer, y = output.pointer, m = mask.pointer
        for row in 0..<input.batch {
            let (mr, xr, yr) = (m + row * items, x + row * items, y + row * items)
            Self.multipliers(rate: rate, stream: stream, row: row, count: items, context, into: mr)
            for e in 0..<items { yr[e] = xr[e] * mr[e] }
        }
        return output
    }

    /// Batch row `row`'s mask, `count` multipliers (0 or 1/(1 − rate)) into `mask`: a function of the row's
    /// global sample index, the epoch and `stream`. BatchNorm's fused epilogue draws its masks here too.
    static func multipliers(rate: Float, stream: UInt64, row: Int, count: Int, _ context: StepContext,
                            into mask: UnsafeMutablePointer<Float>) {
        let sample = UInt64(context.sampleIndices[context.sampleIndices.startIndex + row])
        let prefix = CounterRandom.prefix(seed: context.seed, purpose: .dropout, UInt64(context.epoch), sample)
        CounterRandom.dropoutFactors(prefix: prefix, stream: stream, count: count, rate: rate, keep: 1 / (1 - rate), into: mask)
    }

    public func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor {
        inputGradient.resize(batch: outputGradient.batch)
        let dy = outputGradient.pointer, dx = inputGradient.pointer, m = mask.pointer
        for i in 0..<outputGradient.count { dx[i] = dy[i] * m[i] }
        return inputGradient
    }
}
