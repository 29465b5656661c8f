// BatchNorm with its epilogue (LeakyReLU, Dropout fused in) against the three separate layers, each
// checked by finite differences elsewhere: the same output, ∂input, ∂γ, ∂β and batch statistics, bit
// for bit, in training (with dropout and without) and inference.

import Testing
import VAEMath

@Suite struct FusedBatchNormTests {
    struct Outcome {
        var output, inputGradient, reductionBuffer: [UInt32]
    }

    /// One forward and backward pass of either form, from the same parameters (β, γ and the running
    /// statistics off their initial values), on an input that has exact zeros after the normalization too.
    func pass(fused: Bool, dropoutRate: Float?, training: Bool, channels: Int) -> Outcome {
        let shape = [4, 3, channels], batch = 3
        let store = ParameterStore()
        let epilogue = BatchNorm.Epilogue(dropoutRate: dropoutRate, dropoutStream: 5)
        let norm = BatchNorm(name: "bn", store: store, shape: shape, epilogue: fused ? epilogue : nil)
        var layers: [Layer] = [norm]
        if !fused {
            layers.append(LeakyReLU(shape: shape))
            if let dropoutRate { layers.append(Dropout(shape: shape, rate: dropoutRate, stream: 5)) }
        }
        store.allocate(seed: 1)
        let tweaks = randomValues(store.valueBuffer.count + store.stateBuffer.count, seed: 12, in: -0.5...0.5)
        for i in store.valueBuffer.indices { store.valueBuffer[i] += tweaks[i] }
        for i in store.stateBuffer.indices { store.stateBuffer[i] += abs(tweaks[store.valueBuffer.count + i]) }
        let count = batch * shape.reduce(1, *)
        var values = randomValues(count, seed: 13, in: -3...3)
        for i in stride(from: 0, to: count, by: 7) { values[i] = 0 }
        let x = Tensor(batch: batch, itemShape: shape, values: values)
        let context = StepContext(training: training, seed: 9, epoch: 2, sampleIndices: [40, 7, 1_000_003])
        let y = layers.reduce(x) { $1.forward($0, context) }
        let output = y.array.map(\.bitPattern)
        guard training else { return Outcome(output: output, inputGradient: [], reductionBuffer: []) }
        let dy = Tensor(batch: batch, itemShape: shape, values: randomValues(count, seed: 14, in: -2...2))
        let dx = layers.reversed().reduce(dy) { $1.backward($0, context) }
        return Outcome(output: output, inputGradient: dx.array.map(\.bitPattern),
                       reductionBuffer: Array(store.reductionBuffer).map(\.bitPattern))
    }

    /// 8 channels fill part of one vector of 16, 40 two whole vectors and part of a third.
    @Test(arguments: [nil, 0.25, 0.5] as [Float?], [8, 40])
    func fusedEqualsTheSeparateLayers(dropoutRate: Float?, channels: Int) {
        for training in [true, false] { compare(dropoutRate: dropoutRate, training: training, channels: channels) }
    }

    func compare(dropoutRate: Float?, training: Bool, channels: Int) {
        let fused = pass(fused: true, dropoutRate: dropoutRate, training: training, channels: channels)
        let separate = pass(fused: false, dropoutRate: dropoutRate, training: training, channels: channels)
        for (name, a, b) in [("output", fused.output, separate.output), ("∂input", fused.inputGradient, separate.inputGradient),
                             ("gradients and statistics", fused.reductionBuffer, separate.reductionBuffer)] {
            #expect(a.count == b.count && zip(a, b).allSatisfy { $0 == $1 },
                    "\(name): \(zip(a, b).filter { $0 != $1 }.count) of \(b.count) Floats differ")
        }
        if training, dropoutRate != nil {
            #expect(fused.output.filter { Float(bitPattern: $0) == 0 }.count > 10, "dropout dropped elements")
        }
    }

    @Test func namesSayWhatIsFused() {
        let store = ParameterStore()
        #expect("\(BatchNorm(name: "a", store: store, shape: [2]))" == "BatchNorm")
        #expect("\(BatchNorm(name: "b", store: store, shape: [2], epilogue: .init()))" == "BatchNorm+LeakyReLU")
        #expect("\(BatchNorm(name: "c", store: store, shape: [2], epilogue: .init(dropoutRate: 0.25)))" == "BatchNorm+LeakyReLU+Dropout")
    }
}
