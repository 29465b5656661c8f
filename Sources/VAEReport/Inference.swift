// Inference: the model run forward in inference mode (no dropout; batch norm with its running statistics)
// over many images or latent points, `batchSize` at a time. Results are copied out of the model's tensors,
// which change on the next call. Used by rank 0 between epochs and by the commands on a checkpoint.

import VAEData
import VAEMath

public final class Inference {
    /// Small on purpose: on the book's model, batches of 8 run fastest per image (256 measured about 40% slower,
    /// with oneDNN or im2col), and 8 is the default micro-batch, so the model's tensors need not grow.
    static let batchSize = 8
    let model: VariationalAutoencoder
    private let images: Tensor
    private let latent: Tensor
    private let context = StepContext(training: false, seed: 0, epoch: 0, sampleIndices: [Int]())

    init(model: VariationalAutoencoder) {
        let a = model.architecture
        self.model = model
        images = Tensor(batch: 0, itemShape: [a.inputHeight, a.inputWidth, a.inputChannels])
        latent = Tensor(batch: 0, itemShape: [a.zDim])
    }

    public var zDim: Int { model.architecture.zDim }

    /// Calls `body` with each batch of the images at `indices` (scaled to [0, 1]) and the indices it holds.
    func forEachBatch(of dataset: ImageDataset, _ indices: [Int], _ body: (Tensor, ArraySlice<Int>) throws -> Void) rethrows {
        for start in stride(from: 0, to: indices.count, by: Self.batchSize) {
            let slice = indices[start..<min(start + Self.batchSize, indices.count)]
            dataset.gather(slice, into: images)
            try body(images, slice)
        }
    }

    /// The encoder's means and log-variances for the images at `indices`: `indices.count × zDim` values each, row-major.
    public func encode(_ dataset: ImageDataset, _ indices: [Int]) -> (means: [Float], logVariances: [Float]) {
        var means: [Float] = [], logVariances: [Float] = []
        means.reserveCapacity(indices.count * zDim)
        logVariances.reserveCapacity(indices.count * zDim)
        forEachBatch(of: dataset, indices) { batch, _ in
            let (mu, logVar) = model.encode(batch, context)
            means += UnsafeBufferPointer(start: mu.pointer, count: mu.count)
            logVariances += UnsafeBufferPointer(start: logVar.pointer, count: logVar.count)
        }
        return (means, logVariances)
    }

    /// Decodes latent points (`count × zDim` values, row-major) into one image each, values in [0, 1].
    public func decode(_ z: [Float]) -> [[Float]] {
        precondition(z.count % zDim == 0, "\(z.count) latent values are not whole points of \(zDim)")
        let count = z.count / zDim
        var decoded: [[Float]] = []
        decoded.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: Self.batchSize) {
            let n = min(Self.batchSize, count - start)
            latent.resize(batch: n)
            z.withUnsafeBufferPointer { latent.pointer.update(from: $0.baseAddress! + start * zDim, count: n * zDim) }
            let output = model.decode(latent, context)
            for i in 0..<n {
                decoded.append(Array(UnsafeBufferPointer(start: output.pointer + i * output.itemCount, count: output.itemCount)))
            }
        }
        return decoded
    }

    /// Each image decoded from its encoder mean.
    public func reconstruct(_ dataset: ImageDataset, _ indices: [Int]) -> [[Float]] {
        decode(encode(dataset, indices).means)
    }
}
