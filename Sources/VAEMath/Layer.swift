// Layer: an explicit forward and its backward, llm.c style. No tape, no automatic differentiation.
//
// `forward` keeps what `backward` needs (its input, or its output) and returns a tensor the layer owns.
// `backward` takes ∂loss/∂output, *adds* ∂loss/∂parameters into the store's gradient buffer, and returns
// ∂loss/∂input (also owned by the layer), unless `computesInputGradient` is false (the first layer).

public protocol Layer: AnyObject {
    func forward(_ input: Tensor, _ context: StepContext) -> Tensor
    func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor
}

/// What a step's random draws and mode depend on. Row i of the batch is global sample `sampleIndices[i]`.
public struct StepContext {
    public var training: Bool
    public var seed: UInt64
    public var epoch: Int
    /// A slice of the epoch's order, so a step builds no new array.
    public var sampleIndices: ArraySlice<Int>

    public init(training: Bool, seed: UInt64, epoch: Int, sampleIndices: ArraySlice<Int>) {
        self.training = training
        self.seed = seed
        self.epoch = epoch
        self.sampleIndices = sampleIndices
    }

    public init(training: Bool, seed: UInt64, epoch: Int, sampleIndices: [Int]) {
        self.init(training: training, seed: seed, epoch: epoch, sampleIndices: sampleIndices[...])
    }
}
