// Elementwise activations.
//   LeakyReLU: y = x if x > 0 else α·x (Keras's default α = 0.3);  ∂x = ∂y · (1 if x > 0 else α)
//   Sigmoid:   y = 1 / (1 + e^−x);                                  ∂x = ∂y · y · (1 − y)

import CKernels

public final class LeakyReLU: Layer {
    public static let kerasSlope: Float = 0.3
    public let slope: Float
    private let output, inputGradient: Tensor
    private var input: Tensor?

    public init(shape: [Int], slope: Float = kerasSlope) {
        self.slope = slope
        output = Tensor(batch: 0, itemShape: shape)
        inputGradient = Tensor(batch: 0, itemShape: shape)
    }

    public func forward(_ input: Tensor, _ context: StepContext) -> Tensor {
        self.input = input
        output.resize(batch: input.batch)
        let x = input.pointer, y = output.pointer, a = slope
        for i in 0..<input.count { y[i] = x[i] > 0 ? x[i] : a * x[i] }
        return output
    }

    public func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor {
        inputGradient.resize(batch: outputGradient.batch)
        let x = input!.pointer, dy = outputGradient.pointer, dx = inputGradient.pointer, a = slope
        for i in 0..<outputGradient.count { dx[i] = x[i] > 0 ? dy[i] : a * dy[i] }
        return inputGradient
    }
}

public final class Sigmoid: Layer {
    private let output, inputGradient: Tensor

    public init(shape: [Int]) {
        output = Tensor(batch: 0, itemShape: shape)
        inputGradient = Tensor(batch: 0, itemShape: shape)
    }

    public func forward(_ input: Tensor, _ context: StepContext) -> Tensor {
        output.resize(batch: input.batch)
        vae_sigmoid(input.pointer, output.pointer, input.count)  // 1 / (1 + expf(-x)), vectorized
        return output
    }

    public func backward(_ outputGradient: Tensor, _ context: StepContext) -> Tensor {
        inputGradient.resize(batch: outputGradient.batch)
        let y = output.pointer, dy = outputGradient.pointer, dx = inputGradient.pointer
        for i in 0..<outputGradient.count { dx[i] = dy[i] * y[i] * (1 - y[i]) }
        return inputGradient
    }
}
