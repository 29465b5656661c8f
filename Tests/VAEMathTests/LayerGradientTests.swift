// Every layer's backward against finite differences of its forward, including the stride-2 'same'
// padding edges (odd and even sizes) and BatchNorm's training mode.

import Testing
import VAEMath

@Suite struct LayerGradientTests {
    @Test(arguments: ConvolutionBackend.allCases, [(6, 6, 1), (5, 7, 2), (4, 4, 1), (3, 5, 2)])
    func conv2D(backend: ConvolutionBackend, shape: (height: Int, width: Int, stride: Int)) {
        let (height, width, stride) = shape
        let store = ParameterStore()
        let conv = Conv2D(name: "c", store: store, inputHeight: height, inputWidth: width, inputChannels: 2,
                          filters: 3, kernel: 3, stride: stride, backend: backend)
        store.allocate(seed: 1)
        randomizeBiases(store)
        let x = Tensor(batch: 2, itemShape: [height, width, 2], values: randomValues(2 * height * width * 2, seed: 2))
        checkGradients(of: conv, store: store, input: x, context: trainingContext(batch: 2))
    }

    @Test(arguments: ConvolutionBackend.allCases, [(3, 3, 1), (3, 4, 2), (2, 2, 2)])
    func convTranspose2D(backend: ConvolutionBackend, shape: (height: Int, width: Int, stride: Int)) {
        let (height, width, stride) = shape
        let store = ParameterStore()
        let conv = ConvTranspose2D(name: "t", store: store, inputHeight: height, inputWidth: width, inputChannels: 2,
                                   filters: 3, kernel: 3, stride: stride, backend: backend)
        store.allocate(seed: 1)
        randomizeBiases(store)
        let x = Tensor(batch: 2, itemShape: [height, width, 2], values: randomValues(2 * height * width * 2, seed: 2))
        checkGradients(of: conv, store: store, input: x, context: trainingContext(batch: 2))
    }

    @Test func dense() {
        let store = ParameterStore()
        let dense = Dense(name: "d", store: store, inputShape: [2, 2, 3], outputShape: [5])
        store.allocate(seed: 1)
        randomizeBiases(store)
        let x = Tensor(batch: 3, itemShape: [2, 2, 3], values: randomValues(36, seed: 2))
        checkGradients(of: dense, store: store, input: x, context: trainingContext(batch: 3))
    }

    @Test func leakyReLU() {
        let x = Tensor(batch: 2, itemShape: [10], values: awayFromZero(20, seed: 4))
        checkGradients(of: LeakyReLU(shape: [10]), store: nil, input: x, context: trainingContext(batch: 2), step: 1e-2)
    }

    @Test func sigmoid() {
        let x = Tensor(batch: 2, itemShape: [10], values: randomValues(20, seed: 5, in: -3...3))
        checkGradients(of: Sigmoid(shape: [10]), store: nil, input: x, context: trainingContext(batch: 2), step: 1e-2)
    }

    @Test func batchNormTraining() {
        let store = ParameterStore()
        let norm = BatchNorm(name: "bn", store: store, shape: [3, 3, 4])
        store.allocate(seed: 1)
        randomizeBiases(store)
        let x = Tensor(batch: 3, itemShape: [3, 3, 4], values: randomValues(108, seed: 6, in: -2...2))
        checkGradients(of: norm, store: store, input: x, context: trainingContext(batch: 3), step: 1e-2)
    }

    @Test func dropoutWithFixedMask() {
        let x = Tensor(batch: 4, itemShape: [25], values: randomValues(100, seed: 8))
        let dropout = Dropout(shape: [25], rate: 0.25, stream: 0)
        checkGradients(of: dropout, store: nil, input: x, context: trainingContext(batch: 4))
        let dropped = dropout.forward(x, trainingContext(batch: 4)).array.filter { $0 == 0 }.count
        #expect(dropped > 10 && dropped < 40, "about a quarter of 100 elements dropped, got \(dropped)")
    }

    /// Biases, γ and β start at 0 or 1, which can hide a bug; move them off those values.
    private func randomizeBiases(_ store: ParameterStore) {
        for entry in store.entries where entry.trainable && (entry.initializer == .zeros || entry.initializer == .ones) {
            let values = randomValues(entry.slot.count, seed: 11, in: -0.5...0.5)
            for i in 0..<entry.slot.count { store.values[entry.slot.offset + i] += values[i] }
        }
    }
}
