// Dense: y = x · W + b over the flattened item (NHWC flattening, as Keras's Flatten), W as Keras's [in, out].
//   backward: ∂W += xᵀ · ∂y;  ∂b += Σ_rows ∂y;  ∂x = ∂y · Wᵀ

public final class Dense: Layer {
    public let inputFeatures, outputFeatures: Int
    private let store: ParameterStore
    private let weight, bias: ParameterSlot
    private let output, inputGradient: Tensor
    private var input: Tensor?

    /// `outputShape` is the item shape of the result (a Reshape for free, since the layout is contiguous).
    public init(name: String, store: ParameterStore, inputShape: [Int], outputShape: [Int]) {
        inputFeatures = inputShape.reduce(1, *)
        outputFeatures = outputShape.reduce(1, *)
        self.store = store
        weight = store.declare("\(name).kernel", shape: [inputFeatures, outputFeatures],
                               initializer: .glorotUniform(fanIn: inputFeatures, fanOut: outputFeatures))
        bias = store.declare("\(name).bias", shape: [outputFeatures], initializer: .zeros)
        output = Tensor(batch: 0, itemShape: outputShape)
        inputGradient = Tensor(batch: 0, itemShape: inputShape)
    }

    public func forward(_ input: Tensor, _ context: StepContext) -> Tensor {
        assert(input.itemCount == inputFeatures)
        self.input = input
        output.resize(batch: input.batch)
        Kernels.gemm(transposeA: false, transposeB: false, m: input.batch, n: outputFeatures, k: inputFeatures,
                     input.pointer, store.pointer(weight), beta: 0, output.pointer)
        Kernels.addBias(store.pointer(bias), to: output.pointer, rows: input.batch, columns: outputFeatures)
        return output
    }

    public func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor {
        let n = outputGradient.batch
        Kernels.gemm(transposeA: true, transposeB: false, m: inputFeatures, n: outputFeatures, k: n,
                     input!.pointer, outputGradient.pointer, beta: 1, store.gradient(weight))
        Kernels.accumulateColumnSums(outputGradient.pointer, rows: n, columns: outputFeatures, into: store.gradient(bias))
        inputGradient.resize(batch: n)
        Kernels.gemm(transposeA: false, transposeB: true, m: n, n: inputFeatures, k: outputFeatures,
                     outputGradient.pointer, store.pointer(weight), beta: 0, inputGradient.pointer)
        return inputGradient
    }
}
