// Convolution semantics against direct loops: Keras 'same' padding (odd pixel padded at the end),
// and ConvTranspose2D as the exact adjoint of Conv2D with the same kernel.

import Testing
import VAEMath

@Suite struct ConvolutionTests {
    @Test func sameGeometryPadsTheOddPixelAtTheEnd() {
        let even = ConvGeometry.same(inputHeight: 28, inputWidth: 28, kernel: 3, stride: 2)
        #expect(even.outputHeight == 14 && even.padTop == 0)  // TF pads (0, 1); PyTorch's padding=1 would be (1, 1)
        let odd = ConvGeometry.same(inputHeight: 7, inputWidth: 7, kernel: 3, stride: 2)
        #expect(odd.outputHeight == 4 && odd.padTop == 1)
        let unit = ConvGeometry.same(inputHeight: 28, inputWidth: 28, kernel: 3, stride: 1)
        #expect(unit.outputHeight == 28 && unit.padTop == 1)
    }

    @Test(arguments: ConvolutionBackend.allCases, [(6, 2, 0), (5, 2, 1), (5, 1, 1)])
    func conv2DMatchesDirectLoops(backend: ConvolutionBackend, shape: (size: Int, stride: Int, padTop: Int)) {
        let (size, stride, padTop) = shape
        let (cin, cout, k) = (2, 3, 3)
        let store = ParameterStore()
        let conv = Conv2D(name: "c", store: store, inputHeight: size, inputWidth: size, inputChannels: cin,
                          filters: cout, kernel: k, stride: stride, backend: backend)
        allocateWithBiasRamp(store, seed: 2, bias: "c.bias")
        let x = Tensor(batch: 2, itemShape: [size, size, cin], values: randomValues(2 * size * size * cin, seed: 3))
        let y = conv.forward(x, trainingContext(batch: 2))
        let out = (size + stride - 1) / stride
        #expect(y.itemShape == [out, out, cout])
        let w = store.values + store.entry(named: "c.kernel")!.slot.offset
        for n in 0..<2 { for oh in 0..<out { for ow in 0..<out { for co in 0..<cout {
            var expected = Float(co)
            for kh in 0..<k { for kw in 0..<k { for ci in 0..<cin {
                let ih = oh * stride - padTop + kh, iw = ow * stride - padTop + kw
                guard ih >= 0, ih < size, iw >= 0, iw < size else { continue }
                expected += x[((n * size + ih) * size + iw) * cin + ci] * w[((kh * k + kw) * cin + ci) * cout + co]
            } } }
            let actual = y[((n * out + oh) * out + ow) * cout + co]
            #expect(abs(actual - expected) < 1e-5, "y[\(n),\(oh),\(ow),\(co)]")
        } } } }
    }

    @Test(arguments: ConvolutionBackend.allCases, [(2, 3), (2, 16), (1, 1), (1, 3)])
    func convTransposeMatchesDirectLoops(backend: ConvolutionBackend, shape: (stride: Int, filters: Int)) {
        // Stride 2 with 3 filters is the faces decoder's last layer, which oneDNN's backend computes as a
        // sub-pixel convolution; 16 filters take oneDNN's own backward-data, 1 filter at stride 1 im2col's.
        let (stride, filters) = shape
        let (size, cin, k) = (5, 32, 3)
        let store = ParameterStore()
        let layer = ConvTranspose2D(name: "t", store: store, inputHeight: size, inputWidth: size, inputChannels: cin,
                                    filters: filters, kernel: k, stride: stride, backend: backend)
        allocateWithBiasRamp(store, seed: 8, bias: "t.bias")
        let x = Tensor(batch: 2, itemShape: [size, size, cin], values: randomValues(2 * size * size * cin, seed: 9))
        let y = layer.forward(x, trainingContext(batch: 2))
        let out = size * stride, padTop = layer.geometry.padTop
        #expect(y.itemShape == [out, out, filters])
        let w = store.values + store.entry(named: "t.kernel")!.slot.offset
        for n in 0..<2 { for oh in 0..<out { for ow in 0..<out { for co in 0..<filters {
            var expected = Float(co)
            for ih in 0..<size { for iw in 0..<size { for ci in 0..<cin {
                let kh = oh - ih * stride + padTop, kw = ow - iw * stride + padTop
                guard kh >= 0, kh < k, kw >= 0, kw < k else { continue }
                expected += x[((n * size + ih) * size + iw) * cin + ci] * w[((kh * k + kw) * filters + co) * cin + ci]
            } } }
            let actual = y[((n * out + oh) * out + ow) * filters + co]
            #expect(abs(actual - expected) < 1e-4, "y[\(n),\(oh),\(ow),\(co)]")
        } } } }
    }

    @Test(arguments: ConvolutionBackend.allCases, [1, 2])
    func convTransposeIsTheAdjointOfConv(backend: ConvolutionBackend, stride: Int) {
        // ⟨conv(x), y⟩ = ⟨x, convT(y)⟩ when both use the same kernel and no bias.
        let (size, cin, cout) = (6, 2, 3)
        let convStore = ParameterStore(), transposeStore = ParameterStore()
        let conv = Conv2D(name: "c", store: convStore, inputHeight: size, inputWidth: size, inputChannels: cin,
                          filters: cout, kernel: 3, stride: stride, backend: backend)
        let small = size / stride
        let transpose = ConvTranspose2D(name: "t", store: transposeStore, inputHeight: small, inputWidth: small,
                                        inputChannels: cout, filters: cin, kernel: 3, stride: stride, backend: backend)
        convStore.allocate(seed: 4)
        transposeStore.allocate(seed: 5)
        #expect(convStore.count == transposeStore.count - cin + cout)
        let kernel = convStore.entry(named: "c.kernel")!.slot
        transposeStore.values.update(from: convStore.values + kernel.offset, count: kernel.count)

        let context = trainingContext(batch: 1)
        let x = Tensor(batch: 1, itemShape: [size, size, cin], values: randomValues(size * size * cin, seed: 6))
        let y = Tensor(batch: 1, itemShape: [small, small, cout], values: randomValues(small * small * cout, seed: 7))
        let lhs = probe(conv.forward(x, context), y.array)
        let rhs = probe(transpose.forward(y, context), x.array)
        #expect(abs(lhs - rhs) < 1e-4 * max(1, abs(lhs)))
    }

    @Test func backendsAgreeOnTheBookModel() {
        // The real shapes (28×28, 1 to 64 channels, batch 8), where oneDNN picks its optimized kernels.
        let models = ConvolutionBackend.allCases.map { VariationalAutoencoder(.gdlDigits, seed: 1, convolutionBackend: $0) }
        let images = Tensor(batch: 8, itemShape: [28, 28, 1], values: randomValues(8 * 784, seed: 12, in: 0...1))
        let losses = models.map { model in
            model.parameters.zeroGradients()
            let sums = model.forwardBackward(images, trainingContext(batch: 8), rLossFactor: 1000, globalBatch: 8)
            return sums.reconstruction + sums.kl
        }
        #expect(abs(losses[0] - losses[1]) < 1e-4 * abs(losses[0]))
        let (a, b) = (models[0].parameters, models[1].parameters)
        for entry in a.entries where entry.trainable {
            let range = entry.slot.offset..<(entry.slot.offset + entry.slot.count)
            let scale = range.map { abs(a.gradients[$0]) }.max()!
            let difference = range.map { abs(a.gradients[$0] - b.gradients[$0]) }.max()!
            #expect(difference <= 1e-3 * scale, "\(entry.name): gradients differ by \(difference) at scale \(scale)")
        }
    }
}

/// Allocates `store` and sets the bias named `bias` to 0, 1, 2, …, so a wrong channel shows in the output.
private func allocateWithBiasRamp(_ store: ParameterStore, seed: UInt64, bias: String) {
    store.allocate(seed: seed)
    let slot = store.entry(named: bias)!.slot
    for j in 0..<slot.count { store.values[slot.offset + j] = Float(j) }
}
