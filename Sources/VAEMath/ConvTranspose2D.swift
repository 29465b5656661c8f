// ConvTranspose2D: the adjoint of a 'same' Conv2D from the (larger) output back to the input, as Keras's
// Conv2DTranspose: output = input · stride. Kernel laid out as Keras's [K, K, Cout, Cin], which is exactly
// the matching Conv2D's [K, K, Cin', Cout'] kernel (Cin' = Cout, Cout' = Cin), so the layer runs that
// convolution's kernel with the roles swapped:
//   forward:  y = x ⋆ᵀ W + b                 (the convolution's backward-data)
//   backward: ∂x = ∂y ⋆ W;  ∂W += ∂y ⋆ x;  ∂b += Σ_pixels ∂y

public final class ConvTranspose2D: Layer {
    /// The geometry of the adjoint convolution: its input is this layer's output.
    public let geometry: ConvGeometry
    public let inputChannels, outputChannels: Int
    private let store: ParameterStore
    private let weight, bias: ParameterSlot
    private let kernel: ConvolutionKernel
    private let output, inputGradient: Tensor
    private var input: Tensor?

    public init(name: String, store: ParameterStore, inputHeight: Int, inputWidth: Int, inputChannels: Int,
                filters: Int, kernel: Int, stride: Int, backend: ConvolutionBackend = .default) {
        geometry = .same(inputHeight: inputHeight * stride, inputWidth: inputWidth * stride, kernel: kernel, stride: stride)
        precondition(geometry.outputHeight == inputHeight && geometry.outputWidth == inputWidth)
        self.inputChannels = inputChannels
        outputChannels = filters
        self.store = store
        weight = store.declare("\(name).kernel", shape: [kernel, kernel, filters, inputChannels],
                               initializer: .glorotUniform(fanIn: kernel * kernel * filters, fanOut: kernel * kernel * inputChannels))
        bias = store.declare("\(name).bias", shape: [filters], initializer: .zeros)
        self.kernel = makeConvolutionKernel(backend, geometry: geometry, inputChannels: filters, outputChannels: inputChannels)
        output = Tensor(batch: 0, itemShape: [geometry.inputHeight, geometry.inputWidth, filters])
        inputGradient = Tensor(batch: 0, itemShape: [inputHeight, inputWidth, inputChannels])
    }

    public var outputShape: [Int] { output.itemShape }

    private func pixels(_ batch: Int) -> Int { batch * geometry.inputHeight * geometry.inputWidth }

    public func forward(_ input: Tensor, _ context: StepContext) -> Tensor {
        let n = input.batch
        assert(input.itemCount == geometry.outputHeight * geometry.outputWidth * inputChannels)
        self.input = input
        output.resize(batch: n)
        kernel.backwardData(input.pointer, weights: store.pointer(weight), into: output.pointer, batch: n)
        Kernels.addBias(store.pointer(bias), to: output.pointer, rows: pixels(n), columns: outputChannels)
        return output
    }

    public func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor {
        let n = outputGradient.batch
        inputGradient.resize(batch: n)
        kernel.forward(outputGradient.pointer, weights: store.pointer(weight), into: inputGradient.pointer, batch: n)
        kernel.accumulateWeightGradient(input!.pointer, into: store.gradient(weight), batch: n)
        Kernels.accumulateColumnSums(outputGradient.pointer, rows: pixels(n), columns: outputChannels,
                                     into: store.gradient(bias))
        return inputGradient
    }
}
