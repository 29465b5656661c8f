// SampleWriter: rank 0's pictures of what the model has learned, written between epochs under
// OUT/samples/epoch-NNNN/ and followed by a refreshed OUT/report.html:
//   prior.png            decodings of the same 100 points z ~ N(0, I) every time, so epochs compare
//   reconstructions.png  the first 10 test images in a row, their reconstructions (from the mean) under them
//   latent.png           (z_dim 2) the encoder means of the first 3,000 test images, coloured by label
//   manifold.png         (z_dim 2) the decoder over a 15×15 grid of the prior's quantiles 0.05…0.95
// The scatter is capped at 3,000 images so that a sample point costs under 2% of an epoch at 2 ranks.

import Foundation
import VAEConfig
import VAEData
import VAEMath
import VAESupport

public final class SampleWriter {
    static let priorCount = 100, reconstructionCount = 10, scatterCount = 3000, manifoldSide = 15
    private let config: TrainingConfig
    private let inference: Inference
    private let test: TestSet
    private let prior: [Float]
    private let stepsPerEpoch: Int

    public init(config: TrainingConfig, model: VariationalAutoencoder, stepsPerEpoch: Int) throws {
        try SampleImages.checkDrawable(config.model)
        self.config = config
        self.stepsPerEpoch = stepsPerEpoch
        inference = Inference(model: model)
        test = try TestSet(config: config)
        prior = SampleImages.priorLatents(count: Self.priorCount, zDim: config.model.zDim, seed: UInt64(config.training.seed))
    }

    /// Writes the images for `epoch` completed epochs, then the report; returns the sample directory.
    @discardableResult
    public func write(afterEpoch epoch: Int) throws -> String {
        let directory = config.output.directory + "/samples/" + String(format: "epoch-%04d", epoch)
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw VAEError("\(directory): cannot create the sample directory: \(error.localizedDescription)")
        }
        var figures: [RunReport.Figure] = []
        func add(_ name: String, _ image: RasterImage, caption: String) throws {
            try PNG.write(image, to: directory + "/" + name)
            figures.append(RunReport.Figure(name: name, caption: caption))
        }
        let a = config.model, shape = [a.inputHeight, a.inputWidth, a.inputChannels], data = test.images
        let shown = Array(0..<min(Self.reconstructionCount, data.count))
        try add("prior.png", SampleImages.grid(inference.decode(prior), shape: shape, columns: 10), caption: "decodings of fixed points z ~ N(0, I)")
        try add("reconstructions.png", SampleImages.reconstructionGrid(originals: shown.map(data.image), reconstructions: inference.reconstruct(data, shown),
                                                                      shape: shape, columns: Self.reconstructionCount),
                caption: "test images (top) and their reconstructions (below)")
        if a.zDim == 2 {
            let scattered = Array(0..<min(Self.scatterCount, data.count))
            try add("latent.png", SampleImages.latentScatter(means: inference.encode(data, scattered).means, labels: test.labels,
                                                             classNames: config.data.classNames),
                    caption: "encoder means of the first \(scattered.count) test images" + (test.labels == nil ? "" : ", coloured by label"))
            try add("manifold.png", SampleImages.grid(inference.decode(SampleImages.manifoldLatents(side: Self.manifoldSide)),
                                                      shape: shape, columns: Self.manifoldSide, padding: 0),
                    caption: "the decoder over the prior's quantiles 0.05…0.95 (z₁ across, z₂ up)")
        }
        try RunReport(config: config, stepsPerEpoch: stepsPerEpoch).write(samples: directory, figures: figures)
        return directory
    }
}
