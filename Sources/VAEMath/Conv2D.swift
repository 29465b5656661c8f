// Conv2D: K×K convolution, Keras 'same' padding, stride 1 or 2, NHWC, kernel laid out as Keras's
// [K, K, Cin, Cout], so the im2col matrix times the kernel is the output:
//   forward:  cols[N·Ho·Wo, K·K·Cin] = im2col(x);  y = cols · W + b
//   backward: ∂W += colsᵀ · ∂y;  ∂b += Σ_rows ∂y;  ∂x = col2im(∂y · Wᵀ)

public final class Conv2D: Layer {
    public let geometry: ConvGeometry
    public let inputChannels, outputChannels: Int
    public var computesInputGradient = true
    private let store: ParameterStore
    private let weight, bias: ParameterSlot
    private let columns, columnGradient: Tensor
    private let output, inputGradient: Tensor

    public init(name: String, store: ParameterStore, inputHeight: Int, inputWidth: Int, inputChannels: Int,
                filters: Int, kernel: Int, stride: Int) {
        geometry = .same(inputHeight: inputHeight, inputWidth: inputWidth, kernel: kernel, stride: stride)
        self.inputChannels = inputChannels
        outputChannels = filters
        self.store = store
        let patch = kernel * kernel * inputChannels
        weight = store.declare("\(name).kernel", shape: [kernel, kernel, inputChannels, filters],
                               initializer: .glorotUniform(fanIn: patch, fanOut: kernel * kernel * filters))
        bias = store.declare("\(name).bias", shape: [filters], initializer: .zeros)
        let outPixels = [geometry.outputHeight, geometry.outputWidth]
        columns = Tensor(batch: 0, itemShape: outPixels + [patch])
        columnGradient = Tensor(batch: 0, itemShape: outPixels + [patch])
        output = Tensor(batch: 0, itemShape: outPixels + [filters])
        inputGradient = Tensor(batch: 0, itemShape: [inputHeight, inputWidth, inputChannels])
    }

    public var outputShape: [Int] { output.itemShape }

    public func forward(_ input: Tensor, _ context: StepContext) -> Tensor {
        let n = input.batch
        assert(input.itemCount == geometry.inputHeight * geometry.inputWidth * inputChannels)
        columns.resize(batch: n)
        output.resize(batch: n)
        Kernels.im2col(input.pointer, batch: n, geometry, channels: inputChannels, into: columns.pointer)
        let rows = n * geometry.outputHeight * geometry.outputWidth
        let patch = columns.itemCount / (geometry.outputHeight * geometry.outputWidth)
        Kernels.gemm(transposeA: false, transposeB: false, m: rows, n: outputChannels, k: patch,
                     columns.pointer, store.values + weight.offset, beta: 0, output.pointer)
        Kernels.addBias(store.values + bias.offset, to: output.pointer, rows: rows, columns: outputChannels)
        return output
    }

    public func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor {
        let n = outputGradient.batch
        let rows = n * geometry.outputHeight * geometry.outputWidth
        let patch = columns.itemCount / (geometry.outputHeight * geometry.outputWidth)
        Kernels.gemm(transposeA: true, transposeB: false, m: patch, n: outputChannels, k: rows,
                     columns.pointer, outputGradient.pointer, beta: 1, store.gradients + weight.offset)
        Kernels.accumulateColumnSums(outputGradient.pointer, rows: rows, columns: outputChannels,
                                     into: store.gradients + bias.offset)
        inputGradient.resize(batch: n)
        guard computesInputGradient else { return inputGradient }
        columnGradient.resize(batch: n)
        Kernels.gemm(transposeA: false, transposeB: true, m: rows, n: patch, k: outputChannels,
                     outputGradient.pointer, store.values + weight.offset, beta: 0, columnGradient.pointer)
        Kernels.col2im(columnGradient.pointer, batch: n, geometry, channels: inputChannels, into: inputGradient.pointer)
        return inputGradient
    }
}
