// The whole VAE loss (reconstruction + weight · KL through the sampling step) against finite differences with
// respect to a sample of parameters, at fixed ε (the same StepContext draws the same ε and dropout masks): with
// the book's weight of 1, and with a β-VAE's and a warm-up's.

import Testing
import VAEMath

@Suite struct ModelGradientTests {
    static let small = Architecture(
        inputHeight: 8, inputWidth: 8, inputChannels: 1,
        encoder: [ConvSpec(filters: 4, kernel: 3, stride: 1), ConvSpec(filters: 4, kernel: 3, stride: 2)],
        decoder: [ConvSpec(filters: 4, kernel: 3, stride: 2), ConvSpec(filters: 1, kernel: 3, stride: 1)],
        zDim: 2)

    @Test(arguments: ConvolutionBackend.allCases, [false, true])
    func lossGradient(backend: ConvolutionBackend, batchNormAndDropout: Bool) {
        checkLossGradient(backend: backend, batchNormAndDropout: batchNormAndDropout, klWeight: 1)
    }

    /// β = 4, and a warm-up's 0.25: the KL term's gradient scales with its weight.
    @Test(arguments: [Float(4), 0.25])
    func weightedKLGradient(klWeight: Float) {
        checkLossGradient(backend: .default, batchNormAndDropout: false, klWeight: klWeight)
    }

    func checkLossGradient(backend: ConvolutionBackend, batchNormAndDropout: Bool, klWeight: Float) {
        var architecture = Self.small
        architecture.useBatchNorm = batchNormAndDropout
        architecture.useDropout = batchNormAndDropout
        let model = VariationalAutoencoder(architecture, seed: 5, convolutionBackend: backend)
        let p = model.parameters
        let images = Tensor(batch: 3, itemShape: [8, 8, 1], values: randomValues(192, seed: 9, in: 0...1))
        let context = trainingContext(batch: 3)
        let globalBatch = 4  // a shard of a larger global batch: gradients are scaled by 1/4, not 1/3

        func loss() -> Double {
            let sums = model.evaluate(images, context, rLossFactor: 100, klWeight: klWeight)
            return (sums.reconstruction + Double(klWeight) * sums.kl) / Double(globalBatch)
        }
        p.zeroGradients()
        let sums = model.forwardBackward(images, context, rLossFactor: 100, klWeight: klWeight, globalBatch: globalBatch)
        #expect(abs((sums.reconstruction + sums.weightedKL) / Double(globalBatch) - loss()) < 1e-4)
        #expect(sums.weightedKL == Double(klWeight) * sums.kl)
        let analytic = Array(p.gradientBuffer)

        let h: Float = 1e-3  // small enough to rarely straddle a LeakyReLU kink, large enough for Float32
        var checked = 0
        for entry in p.entries where entry.trainable {
            // A few coordinates of every tensor, including each layer's kernel and bias.
            for element in stride(from: 0, to: entry.slot.count, by: max(1, entry.slot.count / 3)) {
                let i = entry.slot.offset + element
                let saved = p.values[i]
                p.values[i] = saved + h
                let plus = loss()
                p.values[i] = saved - h
                let minus = loss()
                p.values[i] = saved
                let numeric = (plus - minus) / Double(2 * h)
                let error = abs(Double(analytic[i]) - numeric) / max(0.05, abs(numeric), abs(Double(analytic[i])))
                #expect(error < 5e-2, "\(entry.name)[\(element)]: analytic \(analytic[i]) vs numeric \(numeric)")
                checked += 1
            }
        }
        #expect(checked > 30)
    }
}
