// Conv2D: K×K convolution, Keras 'same' padding, stride 1 or 2, NHWC, kernel laid out as Keras's
// [K, K, Cin, Cout]; the products themselves are a ConvolutionKernel's (im2col+GEMM or oneDNN):
//   forward:  y = x ⋆ W + b
//   backward: ∂W += x ⋆ ∂y;  ∂b += Σ_pixels ∂y;  ∂x = ∂y ⋆ᵀ W

public final class Conv2D: Layer {
    public let geometry: ConvGeometry
    public let inputChannels, outputChannels: Int
    public var computesInputGradient = true
    private let store: ParameterStore
    private let weight, bias: ParameterSlot
    private let kernel: ConvolutionKernel
    private let output, inputGradient: Tensor

    public init(name: String, store: ParameterStore, inputHeight: Int, inputWidth: Int, inputChannels: Int,
                filters: Int, kernel: Int, stride: Int, backend: ConvolutionBackend = .default) {
        geometry = .same(inputHeight: inputHeight, inputWidth: inputWidth, kernel: kernel, stride: stride)
        self.inputChannels = inputChannels
        outputChannels = filters
        self.store = store
        weight = store.declare("\(name).kernel", shape: [kernel, kernel, inputChannels, filters],
                               initializer: .glorotUniform(fanIn: kernel * kernel * inputChannels, fanOut: kernel * kernel * filters))
        bias = store.declare("\(name).bias", shape: [filters], initializer: .zeros)
        self.kernel = makeConvolutionKernel(backend, geometry: geometry, inputChannels: inputChannels, outputChannels: filters)
        output = Tensor(batch: 0, itemShape: [geometry.outputHeight, geometry.outputWidth, filters])
        inputGradient = Tensor(batch: 0, itemShape: [inputHeight, inputWidth, inputChannels])
    }

    public var outputShape: [Int] { output.itemShape }

    private func pixels(_ batch: Int) -> Int { batch * geometry.outputHeight * geometry.outputWidth }

    public func forward(_ input: Tensor, _ context: StepContext) -> Tensor {
        let n = input.batch
        assert(input.itemCount == geometry.inputHeight * geometry.inputWidth * inputChannels)
        output.resize(batch: n)
        kernel.forward(input.pointer, weights: store.pointer(weight), into: output.pointer, batch: n)
        Kernels.addBias(store.pointer(bias), to: output.pointer, rows: pixels(n), columns: outputChannels)
        return output
    }

    public func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor {
        let n = outputGradient.batch
        kernel.accumulateWeightGradient(outputGradient.pointer, into: store.gradient(weight), batch: n)
        Kernels.accumulateColumnSums(outputGradient.pointer, rows: pixels(n), columns: outputChannels,
                                     into: store.gradient(bias))
        inputGradient.resize(batch: n)
        guard computesInputGradient else { return inputGradient }
        kernel.backwardData(outputGradient.pointer, weights: store.pointer(weight), into: inputGradient.pointer, batch: n)
        return inputGradient
    }
}
