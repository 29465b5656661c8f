// ConvTranspose2D: the adjoint of a 'same' Conv2D from the (larger) output back to the input, as Keras's
// Conv2DTranspose: output = input · stride. Kernel laid out as Keras's [K, K, Cout, Cin], which read as a
// [K·K·Cout, Cin] matrix W is exactly the matching Conv2D's kernel:
//   forward:  cols[N·Hi·Wi, K·K·Cout] = x · Wᵀ;  y = col2im(cols) + b
//   backward: cols' = im2col(∂y);  ∂W += cols'ᵀ · x;  ∂b += Σ_pixels ∂y;  ∂x = cols' · W

public final class ConvTranspose2D: Layer {
    /// The geometry of the adjoint convolution: its input is this layer's output.
    public let geometry: ConvGeometry
    public let inputChannels, outputChannels: Int
    private let store: ParameterStore
    private let weight, bias: ParameterSlot
    private let columns, output, inputGradient: Tensor
    private var input: Tensor?

    public init(name: String, store: ParameterStore, inputHeight: Int, inputWidth: Int, inputChannels: Int,
                filters: Int, kernel: Int, stride: Int) {
        geometry = .same(inputHeight: inputHeight * stride, inputWidth: inputWidth * stride, kernel: kernel, stride: stride)
        precondition(geometry.outputHeight == inputHeight && geometry.outputWidth == inputWidth)
        self.inputChannels = inputChannels
        outputChannels = filters
        self.store = store
        weight = store.declare("\(name).kernel", shape: [kernel, kernel, filters, inputChannels],
                               initializer: .glorotUniform(fanIn: kernel * kernel * filters, fanOut: kernel * kernel * inputChannels))
        bias = store.declare("\(name).bias", shape: [filters], initializer: .zeros)
        columns = Tensor(batch: 0, itemShape: [inputHeight, inputWidth, kernel * kernel * filters])
        output = Tensor(batch: 0, itemShape: [geometry.inputHeight, geometry.inputWidth, filters])
        inputGradient = Tensor(batch: 0, itemShape: [inputHeight, inputWidth, inputChannels])
    }

    public var outputShape: [Int] { output.itemShape }

    private var patch: Int { geometry.kernel * geometry.kernel * outputChannels }

    public func forward(_ input: Tensor, _ context: StepContext) -> Tensor {
        let n = input.batch
        assert(input.itemCount == geometry.outputHeight * geometry.outputWidth * inputChannels)
        self.input = input
        columns.resize(batch: n)
        output.resize(batch: n)
        let rows = n * geometry.outputHeight * geometry.outputWidth
        Kernels.gemm(transposeA: false, transposeB: true, m: rows, n: patch, k: inputChannels,
                     input.pointer, store.values + weight.offset, beta: 0, columns.pointer)
        Kernels.col2im(columns.pointer, batch: n, geometry, channels: outputChannels, into: output.pointer)
        Kernels.addBias(store.values + bias.offset, to: output.pointer,
                        rows: n * geometry.inputHeight * geometry.inputWidth, columns: outputChannels)
        return output
    }

    public func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor {
        let n = outputGradient.batch
        let rows = n * geometry.outputHeight * geometry.outputWidth
        Kernels.im2col(outputGradient.pointer, batch: n, geometry, channels: outputChannels, into: columns.pointer)
        Kernels.gemm(transposeA: true, transposeB: false, m: patch, n: inputChannels, k: rows,
                     columns.pointer, input!.pointer, beta: 1, store.gradients + weight.offset)
        Kernels.accumulateColumnSums(outputGradient.pointer, rows: n * geometry.inputHeight * geometry.inputWidth,
                                     columns: outputChannels, into: store.gradients + bias.offset)
        inputGradient.resize(batch: n)
        Kernels.gemm(transposeA: false, transposeB: false, m: rows, n: inputChannels, k: patch,
                     columns.pointer, store.values + weight.offset, beta: 0, inputGradient.pointer)
        return inputGradient
    }
}
