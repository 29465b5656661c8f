// Validation: the mean loss over data.validation (or the test split), every validation.every_epochs epochs and
// at the end, of the weights the run shows: their moving average when it keeps one, else the weights. The KL
// term takes its full weight β, so that losses compare across a warm-up. Every rank takes a share: the images
// go in fixed chunks of 8, each evaluated whole on one rank (chunk k on rank k mod N), whose sums the ranks
// gather and add in chunk order; so the result is the same bits at any rank count, as the training's tree is.
// Each image's draw of z is a function of (seed, image index), the same every time.

import VAEConfig
import VAECommunication
import VAEData
import VAEMath
import VAESupport

final class Validation {
    static let chunk = 8
    let images: ImageDataset
    /// What evaluates: a copy of the model, into which each validation copies the weights it shows.
    private let model: VariationalAutoencoder
    private let batch: Tensor

    init(images: ImageDataset, architecture: Architecture, convolutionBackend: ConvolutionBackend) {
        self.images = images
        model = VariationalAutoencoder(architecture, seed: 0, convolutionBackend: convolutionBackend)
        batch = Tensor(batch: Self.chunk, itemShape: images.imageShape)
    }

    /// The validation set `config` names, if any, checked against the model.
    static func load(_ config: TrainingConfig) throws -> ImageDataset? {
        guard let path = config.validationImages else { return nil }
        do {
            let images = try ImageDataset.load(path, folder: config.data.folderSettings, imageShape: config.model.inputShape)
            try images.check(fits: config.architecture, source: path)
            return images
        } catch let error as VAEError { throw VAEError("data.validation: \(error.message)") }
    }

    /// Every rank at once: the loss sums over every validation image of `weights` (with `statistics`' batch-norm
    /// statistics), the KL term weighted by `klWeight`.
    func evaluate(weights: UnsafePointer<Float>, statistics: ParameterStore, klWeight: Float, rLossFactor: Float, seed: UInt64,
                  communicator: Communicator) throws -> LossSums {
        model.parameters.copyWeights(from: statistics)
        model.parameters.values.update(from: weights, count: statistics.count)
        let chunks = (images.count + Self.chunk - 1) / Self.chunk
        // Per chunk: reconstruction, KL, weighted KL, as Doubles; zero in the chunks of the other ranks.
        var mine = [Double](repeating: 0, count: 3 * chunks)
        for k in stride(from: communicator.rank, to: chunks, by: communicator.size) {
            let indices = Array(k * Self.chunk..<min((k + 1) * Self.chunk, images.count))
            images.gather(indices[...], into: batch)
            let context = StepContext(training: false, seed: seed, epoch: 0, sampleIndices: indices)
            let sums = model.evaluate(batch, context, rLossFactor: rLossFactor, klWeight: klWeight)
            (mine[3 * k], mine[3 * k + 1], mine[3 * k + 2]) = (sums.reconstruction, sums.kl, sums.weightedKL)
        }
        let everyRank = try communicator.allgather(mine.withUnsafeBytes { Array($0) })
        var total = LossSums(samples: images.count)
        for k in 0..<chunks {
            let owner = everyRank[k % communicator.size].withUnsafeBytes { $0.bindMemory(to: Double.self) }
            total.reconstruction += owner[3 * k]
            total.kl += owner[3 * k + 1]
            total.weightedKL += owner[3 * k + 2]
        }
        return total
    }
}
