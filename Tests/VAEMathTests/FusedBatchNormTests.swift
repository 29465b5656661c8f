// BatchNorm with its epilogue (LeakyReLU, Dropout fused in) against the three separate layers, each
// checked by finite differences elsewhere: the same output, ∂input, ∂γ, ∂β and batch statistics, bit
// for bit, in training (with dropout and without) and inference; and BatchNorm's C kernels against its
// formulas in scalar Swift loops.

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

    /// 8 channels fill part of one vector of 16, 40 two whole vectors and part of a third; in the C kernels'
    /// column blocks (64, 16, 4 and 1 wide), 8 is two blocks of 4, 40 two of 16 and two of 4, 72 one of 64
    /// and two of 4.
    @Test(arguments: [nil, 0.25, 0.5] as [Float?], [8, 40, 72])
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

    /// The C kernels against BatchNorm's formulas in plain scalar loops, in the order the header gives:
    /// whatever instruction set the CPU picks, the bits of the loops as written.
    @Test(arguments: [8, 40, 72])
    func kernelsGiveTheBitsOfScalarLoops(channels c: Int) {
        let rows = 36, count = rows * c, epsilon: Float = 0.001
        let x = randomValues(count, seed: 21, in: -3...3), dy = randomValues(count, seed: 22, in: -2...2)
        let store = ParameterStore()
        let norm = BatchNorm(name: "bn", store: store, shape: [c])
        store.allocate(seed: 1)
        let tweaks = randomValues(2 * c, seed: 23, in: -0.5...0.5)
        for i in 0..<(2 * c) { store.valueBuffer[i] += tweaks[i] }  // γ, then β
        let gamma = Array(store.valueBuffer[0..<c]), beta = Array(store.valueBuffer[c..<(2 * c)])
        let context = StepContext(training: true, seed: 1, epoch: 0, sampleIndices: Array(0..<rows))
        let y = norm.forward(Tensor(batch: rows, itemShape: [c], values: x), context).array
        let dx = norm.backward(Tensor(batch: rows, itemShape: [c], values: dy), context).array

        var mean = [Float](repeating: 0, count: c), squares = mean, s = mean, sx = mean
        for r in 0..<rows { for j in 0..<c { mean[j] += x[r * c + j] } }
        for j in 0..<c { mean[j] /= Float(rows) }
        for r in 0..<rows { for j in 0..<c { let d = x[r * c + j] - mean[j]; squares[j] += d * d } }
        let inv = squares.map { 1 / ($0 / Float(rows) + epsilon).squareRoot() }
        let xhat = (0..<count).map { (x[$0] - mean[$0 % c]) * inv[$0 % c] }
        let expectedY = (0..<count).map { gamma[$0 % c] * xhat[$0] + beta[$0 % c] }
        for r in 0..<rows { for j in 0..<c { s[j] += dy[r * c + j]; sx[j] += dy[r * c + j] * xhat[r * c + j] } }
        let m = Float(rows)
        let expectedDx = (0..<count).map { i in gamma[i % c] * inv[i % c] / m * (m * dy[i] - s[i % c] - xhat[i] * sx[i % c]) }
        #expect(y.map(\.bitPattern) == expectedY.map(\.bitPattern))
        #expect(dx.map(\.bitPattern) == expectedDx.map(\.bitPattern))
        #expect(Array(store.gradientBuffer[0..<(2 * c)]).map(\.bitPattern) == (sx + s).map(\.bitPattern))
    }

    @Test func namesSayWhatIsFused() {
        let store = ParameterStore()
        #expect("\(BatchNorm(name: "a", store: store, shape: [2]))" == "BatchNorm")
        #expect("\(BatchNorm(name: "b", store: store, shape: [2], epilogue: .init()))" == "BatchNorm+LeakyReLU")
        #expect("\(BatchNorm(name: "c", store: store, shape: [2], epilogue: .init(dropoutRate: 0.25)))" == "BatchNorm+LeakyReLU+Dropout")
    }
}
