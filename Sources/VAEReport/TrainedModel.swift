// TrainedModel: a checkpoint's model, ready for inference: built from the resolved config in its state.json
// and loaded with the weights of its ema.safetensors (the weights' moving average) when it has one and they
// are asked for, else its model.safetensors. What the commands on a checkpoint start from.

import VAECheckpoint
import VAEConfig
import VAEData
import VAEMath
import VAESupport

public struct TrainedModel {
    public let config: TrainingConfig
    let model: VariationalAutoencoder
    public let inference: Inference

    /// Which weights of a checkpoint to use.
    public enum Weights: String, CaseIterable, Sendable {
        /// The moving average when the checkpoint has one, else the weights.
        case preferAverage = "ema"
        /// The weights as trained.
        case raw
    }

    /// `path`: a checkpoint directory, OUT/checkpoints/step-NNNNNNNN, OUT/checkpoints/latest or best; `backend`
    /// overrides the run's training.conv_backend.
    public init(checkpoint path: String, weights: Weights = .preferAverage, convolutionBackend backend: ConvolutionBackend? = nil) throws {
        let checkpoint = try Checkpoint.read(path)
        config = checkpoint.state.config
        model = VariationalAutoencoder(config.architecture, seed: UInt64(config.training.seed),
                                       convolutionBackend: backend ?? config.training.convBackend)
        if weights == .preferAverage, let average = checkpoint.average {
            try ModelWeights.load(average, into: model, source: path + "/" + Checkpoint.averageFile)
        } else {
            try ModelWeights.load(checkpoint.model, into: model, source: path + "/" + Checkpoint.modelFile)
        }
        inference = Inference(model: model)
    }

    public var imageShape: [Int] { config.model.inputShape }

    /// The images of the IDX file or folder at `path` (a folder's resized as the run's data were), which must
    /// fit the model; `source` names the option that gave it.
    public func images(_ path: String, source: String) throws -> ImageDataset {
        let data: ImageDataset
        do { data = try ImageDataset.load(path, folder: config.data.folderSettings, imageShape: imageShape) } catch let error as VAEError {
            throw VAEError("\(source): \(error.message)")
        }
        try data.check(fits: config.architecture, source: source)
        return data
    }
}
