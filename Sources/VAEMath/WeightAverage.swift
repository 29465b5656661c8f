// WeightAverage: an exponential moving average of a model's weights (EMA), as vdvae keeps one for sampling and
// evaluation. After each step taken, for every trained value,
//   average ← decay · average + (1 − decay) · weight
// starting from the initial weights; the batch-norm statistics are running averages already and are taken
// as they are when the average is used. An elementwise function of the weights, so every rank that keeps one
// keeps the same bits, and a checkpoint that saves it resumes it exactly.

public final class WeightAverage {
    public let decay: Float
    /// The averages of the trained values, laid out as the model's values.
    public let values: UnsafeMutableBufferPointer<Float>

    /// Starts at `parameters`' values.
    public init(decay: Float, of parameters: ParameterStore) {
        precondition(decay > 0 && decay < 1, "an average's decay is in (0, 1), not \(decay)")
        self.decay = decay
        values = .allocate(capacity: parameters.count)
        _ = values.initialize(from: parameters.valueBuffer)
    }

    deinit { values.deallocate() }

    /// One step's move towards `parameters`' values.
    public func update(from parameters: ParameterStore) {
        precondition(parameters.count == values.count, "averaging the weights of another model")
        let weights = parameters.values, keep = decay, take = 1 - decay
        for i in 0..<values.count { values[i] = keep * values[i] + take * weights[i] }
    }

    /// Takes `other`'s averages (the same model's).
    public func copy(from other: WeightAverage) {
        precondition(other.values.count == values.count, "copying the average of another model")
        _ = values.update(fromContentsOf: other.values)
    }

    /// Puts the averages in `parameters`' values, and `statistics`' state beside them: the averaged model.
    public func write(into parameters: ParameterStore, statistics: ParameterStore) {
        parameters.copyWeights(from: statistics)
        parameters.valueBuffer.baseAddress!.update(from: values.baseAddress!, count: values.count)
    }
}
