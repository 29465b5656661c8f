// Adam's arithmetic, the step-decay schedule, the loss terms at known points, and the counter-based RNG.

import Foundation
import Testing
import VAEMath

@Suite struct OptimizerAndRandomTests {
    @Test func adamFirstStepsMatchHandArithmetic() {
        let adam = Adam(parameterCount: 2)
        var p: [Float] = [1, -2]
        let g: [Float] = [0.5, -0.25]
        adam.update(parameters: &p, gradients: g, learningRate: 0.1)
        // Step 1: m̂ = g, v̂ = g², so the move is lr · g/(|g| + ε) ≈ lr · sign(g).
        #expect(abs(p[0] - 0.9) < 1e-5 && abs(p[1] - -1.9) < 1e-5)
        adam.update(parameters: &p, gradients: [0, 0], learningRate: 0.1)
        let m = 0.9 * 0.1 * 0.5, v = 0.999 * 0.001 * 0.25
        let alpha = 0.1 * (1 - pow(0.999, 2)).squareRoot() / (1 - pow(0.9, 2))
        #expect(abs(Double(p[0]) - (0.9 - alpha * m / (v.squareRoot() + 1e-7))) < 1e-5)
        #expect(adam.step == 2)
    }

    @Test func adamByRangesInAnyOrderIsTheWholeUpdate() {
        let whole = Adam(parameterCount: 6), pieces = Adam(parameterCount: 6)
        var a: [Float] = [1, -2, 3, 0.5, -0.25, 2], b = a
        for step in 0..<3 {
            let g = randomValues(6, seed: UInt64(step))
            whole.update(parameters: &a, gradients: g, learningRate: 0.01)
            pieces.advance(learningRate: 0.01)
            for range in [4..<6, 0..<1, 1..<4] { pieces.apply(range, parameters: &b, gradients: g) }
        }
        #expect(a == b && pieces.step == 3)
    }

    /// The C kernel against Adam's formula in a scalar Swift loop, evaluated in the header's order: 37
    /// parameters take the vector body and the tail, over three steps.
    @Test func adamKernelGivesTheBitsOfTheScalarFormula() {
        let count = 37, adam = Adam(parameterCount: count)
        var p = randomValues(count, seed: 41), expected = p
        var m = [Float](repeating: 0, count: count), v = m
        for step in 1...3 {
            let g = randomValues(count, seed: UInt64(41 + step), in: -2...2)
            adam.update(parameters: &p, gradients: g, learningRate: 0.01)
            let t = Double(step)
            let alpha = Float(Double(Float(0.01)) * (1 - pow(Double(adam.beta2), t)).squareRoot() / (1 - pow(Double(adam.beta1), t)))
            for i in 0..<count {
                m[i] = adam.beta1 * m[i] + (1 - adam.beta1) * g[i]
                v[i] = adam.beta2 * v[i] + (1 - adam.beta2) * g[i] * g[i]
                expected[i] -= alpha * m[i] / (v[i].squareRoot() + adam.epsilon)
            }
        }
        #expect(p.map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(Array(adam.firstMoment).map(\.bitPattern) == m.map(\.bitPattern))
        #expect(Array(adam.secondMoment).map(\.bitPattern) == v.map(\.bitPattern))
    }

    @Test func stepDecay() {
        let schedule = LearningRateSchedule(base: 0.001, decayFactor: 0.5, decayEveryEpochs: 2)
        #expect(schedule.learningRate(epoch: 0) == 0.001)
        #expect(schedule.learningRate(epoch: 1) == 0.001)
        #expect(schedule.learningRate(epoch: 2) == 0.0005)
        #expect(schedule.learningRate(epoch: 5) == 0.00025)
    }

    @Test func linearWarmUp() {
        let schedule = LearningRateSchedule(base: 0.002, decayFactor: 0.5, decayEveryEpochs: 2, warmupSteps: 4)
        let rates = (0..<6).map { schedule.learningRate(step: $0, epoch: 0) }
        #expect(zip(rates, [0.0005, 0.001, 0.0015, 0.002, 0.002, 0.002] as [Float]).allSatisfy { abs($0 - $1) < 1e-9 }, "\(rates)")
        #expect(abs(schedule.learningRate(step: 2, epoch: 2) - 0.00075) < 1e-9, "the warm-up scales the decayed rate")
        for warmupSteps in [0, 1] {
            let off = LearningRateSchedule(base: 0.0005, decayFactor: 0.9, decayEveryEpochs: 1, warmupSteps: warmupSteps)
            #expect((0..<5).allSatisfy { off.learningRate(step: $0 * 7, epoch: $0) == off.learningRate(epoch: $0) }, "no warm-up: the step-decay rate")
        }
    }

    @Test func lossTermsAtKnownPoints() {
        let x = Tensor(batch: 2, itemShape: [2], values: [0, 1, 0.5, 0.5])
        let y = Tensor(batch: 2, itemShape: [2], values: [1, 1, 0.5, 0])
        let gradient = Tensor(batch: 0, itemShape: [2])
        // Image 0: mean((1, 0)²) = 0.5; image 1: mean((0, 0.5)²) = 0.125; times 10.
        #expect(abs(VAELoss.reconstruction(target: x, output: y, factor: 10, globalBatch: 2, gradient: gradient) - 6.25) < 1e-6)
        #expect(gradient.array == [5, 0, 0, -2.5])  // 10 · 2(y − x)/2 pixels / 2 images
        let mu = Tensor(batch: 1, itemShape: [2], values: [0, 1])
        let logVar = Tensor(batch: 1, itemShape: [2], values: [0, 0])
        let dmu = Tensor(batch: 1, itemShape: [2]), dlv = Tensor(batch: 1, itemShape: [2])
        // KL(N(0,1)) = 0 and KL(N(1,1)) = ½.
        #expect(abs(VAELoss.klDivergence(mean: mu, logVariance: logVar, globalBatch: 1, meanGradient: dmu, logVarianceGradient: dlv) - 0.5) < 1e-6)
        #expect(dmu.array == [0, 1] && dlv.array == [0, 0])
    }

    @Test func drawsArePureFunctionsOfTheirCoordinates() {
        let a = CounterRandom.normal(seed: 1, purpose: .latentNoise, 3, 17, 0)
        #expect(a == CounterRandom.normal(seed: 1, purpose: .latentNoise, 3, 17, 0))
        #expect(a != CounterRandom.normal(seed: 1, purpose: .latentNoise, 3, 18, 0))
        #expect(a != CounterRandom.normal(seed: 2, purpose: .latentNoise, 3, 17, 0))
        #expect(a != CounterRandom.normal(seed: 1, purpose: .dropout, 3, 17, 0))
    }

    /// The C kernel (vectorized where the CPU allows) against the Swift draw it stands for, bit for bit,
    /// over lengths that leave a remainder for every vector width.
    @Test(arguments: [0.25, 0.5, 0.1] as [Float])
    func dropoutFactorsAreTheDraws(rate: Float) {
        let keep = 1 / (1 - rate), count = 1_003
        for (sample, stream) in [(0, 0), (7, 3), (1_000_003, 11)] as [(UInt64, UInt64)] {
            let prefix = CounterRandom.prefix(seed: 42, purpose: .dropout, 2, sample)
            let factors = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                CounterRandom.dropoutFactors(prefix: prefix, stream: stream, count: count, rate: rate, keep: keep, into: buffer.baseAddress!)
                initialized = count
            }
            let expected = (0..<count).map { e in
                CounterRandom.uniform(CounterRandom.bits(prefix: prefix, stream << 32 | UInt64(e))) < rate ? 0 : keep
            }
            #expect(factors.map(\.bitPattern) == expected.map(\.bitPattern), "sample \(sample), stream \(stream)")
            #expect(factors.contains(0) && factors.contains(keep))
        }
    }

    @Test func normalDrawsHaveUnitMoments() {
        let draws = (0..<20_000).map { Double(CounterRandom.normal(seed: 9, purpose: .latentNoise, 0, UInt64($0), 0)) }
        let mean = draws.reduce(0, +) / Double(draws.count)
        let variance = draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(draws.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.04)
        let uniforms = (0..<20_000).map { CounterRandom.uniform(seed: 9, purpose: .dropout, 0, 0, UInt64($0)) }
        #expect(uniforms.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(abs(uniforms.reduce(0, +) / 20_000 - 0.5) < 0.01)
    }

    @Test func permutationsArePermutationsAndDifferByKey() {
        let a = CounterRandom.permutation(count: 1000, seed: 1, purpose: .shuffle, key: 0)
        #expect(a.sorted() == Array(0..<1000))
        #expect(a != Array(0..<1000))
        #expect(a == CounterRandom.permutation(count: 1000, seed: 1, purpose: .shuffle, key: 0))
        #expect(a != CounterRandom.permutation(count: 1000, seed: 1, purpose: .shuffle, key: 1))
    }

    @Test func glorotInitializationIsBoundedAndSeeded() {
        let a = VariationalAutoencoder(.gdlDigits, seed: 1), b = VariationalAutoencoder(.gdlDigits, seed: 1)
        #expect(Array(a.parameters.valueBuffer) == Array(b.parameters.valueBuffer))
        #expect(a.parameters.count == 207_237)  // the same count Keras reports for the book's model
        let kernel = a.parameters.entry(named: "encoder_conv_1.kernel")!
        let limit = Float((6.0 / Double(9 * 32 + 9 * 64)).squareRoot())
        let values = (0..<kernel.slot.count).map { a.parameters.values[kernel.slot.offset + $0] }
        #expect(values.allSatisfy { abs($0) <= limit } && values.contains { abs($0) > 0.9 * limit })
        #expect(a.parameters.entry(named: "encoder_conv_1.bias")!.initializer == .zeros)
    }
}
