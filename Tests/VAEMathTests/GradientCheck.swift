// Finite-difference checking: a layer's analytic gradients against central differences of a scalar
// probe loss L = Σ y · r, with r a fixed random tensor, evaluated in Double.

import Testing
import VAEMath

/// A deterministic pseudo-random fill for test inputs (values in [lo, hi)).
func randomValues(_ count: Int, seed: UInt64, in range: ClosedRange<Float> = -1...1) -> [Float] {
    (0..<count).map { range.lowerBound + (range.upperBound - range.lowerBound)
        * CounterRandom.uniform(seed: seed, purpose: .initialization, 99, 0, UInt64($0)) }
}

/// Values in [−1, −margin] ∪ [margin, 1]: away from LeakyReLU's kink, so differences stay smooth.
func awayFromZero(_ count: Int, seed: UInt64, margin: Float = 0.1) -> [Float] {
    randomValues(count, seed: seed).map { $0 >= 0 ? margin + (1 - margin) * $0 : -margin + (1 - margin) * $0 }
}

func probe(_ output: Tensor, _ weights: [Float]) -> Double {
    (0..<output.count).reduce(0.0) { $0 + Double(output[$1]) * Double(weights[$1]) }
}

/// Checks ∂L/∂input and ∂L/∂parameters of `layer` at `input`, over up to `samples` coordinates of each.
func checkGradients(
    of layer: Layer, store: ParameterStore?, input: Tensor, context: StepContext,
    checkInput: Bool = true, step h: Float = 1e-2, tolerance: Double = 2e-2, samples: Int = 40,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let output = layer.forward(input, context)
    let r = randomValues(output.count, seed: 7)
    let outputGradient = Tensor(batch: output.batch, itemShape: output.itemShape, values: r)
    store?.zeroGradients()
    let analyticInput = layer.backward(outputGradient, context).array
    let analyticParameters = store.map { Array($0.gradientBuffer) } ?? []

    func numeric(_ pointer: UnsafeMutablePointer<Float>, _ i: Int) -> Double {
        let saved = pointer[i]
        pointer[i] = saved + h
        let plus = probe(layer.forward(input, context), r)
        pointer[i] = saved - h
        let minus = probe(layer.forward(input, context), r)
        pointer[i] = saved
        return (plus - minus) / Double(2 * h)
    }
    func compare(_ analytic: Double, _ numeric: Double, _ what: String) {
        let error = abs(analytic - numeric) / max(1, abs(analytic), abs(numeric))
        #expect(error < tolerance, "\(what): analytic \(analytic) vs numeric \(numeric)", sourceLocation: sourceLocation)
    }
    if checkInput {
        for i in stride(from: 0, to: input.count, by: max(1, input.count / samples)) {
            compare(Double(analyticInput[i]), numeric(input.pointer, i), "∂input[\(i)]")
        }
    }
    if let store {
        for i in stride(from: 0, to: store.count, by: max(1, store.count / samples)) {
            compare(Double(analyticParameters[i]), numeric(store.values, i), "∂parameter[\(i)]")
        }
    }
}

func trainingContext(batch: Int, seed: UInt64 = 3, epoch: Int = 0) -> StepContext {
    StepContext(training: true, seed: seed, epoch: epoch, sampleIndices: Array(100..<(100 + batch)))
}
