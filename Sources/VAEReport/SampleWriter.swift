// SampleWriter: rank 0's pictures of what the model has learned, written between epochs under
// OUT/samples/epoch-NNNN/ and followed by a refreshed OUT/report.html; grey or RGB as the model's images are:
//   prior.png              decodings of the same 100 points z ~ N(0, I) every time, so epochs compare
//   reconstructions.png    the first 10 test images in a row, their reconstructions (from the mean) under them
//   latent.png             (z_dim 2) the encoder means of the first 3,000 test images, coloured by label
//   manifold.png           (z_dim 2) the decoder over a 15×15 grid of the prior's quantiles 0.05…0.95
//   latent-histograms.png  (any other z_dim) histograms of the same means in each of the first 50 dimensions
//                          against N(0, 1), the book's check for a latent space it cannot draw as a plane
// The encoded images are capped at 3,000 so that a sample point costs under 2% of an epoch at 2 ranks.
// Weights that are not all finite draw no pictures: a grid of NaN would look like a model, not an error.
// A full or read-only disk costs the pictures and the report a warning, not the run its training; an epoch's
// pictures are then all there or none is, as a checkpoint is.

import Foundation
import VAEConfig
import VAEData
import VAEMath
import VAESupport

public final class SampleWriter {
    static let priorCount = 100, reconstructionCount = 10, encodedCount = 3000, manifoldSide = 15
    private let config: TrainingConfig
    private let inference: Inference
    private let test: TestSet
    private let prior: [Float]
    private let stepsPerEpoch: Int

    public init(config: TrainingConfig, model: VariationalAutoencoder, stepsPerEpoch: Int) throws {
        try SampleImages.checkDrawable(config.architecture)
        self.config = config
        self.stepsPerEpoch = stepsPerEpoch
        inference = Inference(model: model)
        test = try TestSet(config: config)
        prior = SampleImages.priorLatents(count: Self.priorCount, zDim: config.model.zDim, seed: UInt64(config.training.seed))
    }

    /// What the trainer draws its pictures with: a SampleWriter of `config`'s on each model it is handed.
    public static func drawing(config: TrainingConfig, stepsPerEpoch: Int)
        -> (VariationalAutoencoder) throws -> (_ afterEpoch: Int, _ warn: (String) -> Void, _ progress: (String) -> Void) throws -> String? {
        { model in try SampleWriter(config: config, model: model, stepsPerEpoch: stepsPerEpoch).write }
    }

    /// Writes the images for `epoch` completed epochs, then the report; returns the sample directory. When some
    /// weight is NaN or infinite, or the pictures cannot be written, it keeps none, tells `warn` why, and returns
    /// nil; a report that cannot be written is warned about as well. `progress` hears each piece as it starts.
    @discardableResult
    public func write(afterEpoch epoch: Int, warn: (String) -> Void, progress: (String) -> Void = { _ in }) throws -> String? {
        if let tensor = inference.model.parameters.firstNonfiniteEntry {
            warn("warning: no samples after epoch \(epoch): tensor \(tensor) holds NaN or infinite values")
            return nil
        }
        let directory = config.output.directory + "/samples/" + String(format: "epoch-%04d", epoch)
        let figures = try draw(progress)
        progress("the files of the pictures")
        do {
            try DurableFiles.createDirectory(directory)
            for figure in figures { try DurableFiles.write(figure.png, to: directory + "/" + figure.name) }
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            warn("warning: no samples after epoch \(epoch): \(error); training goes on")
            return nil
        }
        progress("the report")
        do { try RunReport(config: config, stepsPerEpoch: stepsPerEpoch).write(samples: directory, figures: figures) } catch {
            warn("warning: no report after epoch \(epoch): \(error); training goes on")
        }
        return directory
    }

    /// The pictures, encoded as PNG files, of the model as it is now.
    private func draw(_ progress: (String) -> Void) throws -> [RunReport.Figure] {
        var figures: [RunReport.Figure] = []
        func add(_ name: String, _ image: @autoclosure () throws -> RasterImage, caption: String) throws {
            progress(name)
            figures.append(RunReport.Figure(name: name, png: try ImageEncoder.pngData(image()), caption: caption))
        }
        let a = config.architecture, shape = config.model.inputShape, data = test.images
        let shown = Array(0..<min(Self.reconstructionCount, data.count))
        try add("prior.png", SampleImages.grid(inference.decode(prior), shape: shape, columns: 10), caption: "decodings of fixed points z ~ N(0, I)")
        try add("reconstructions.png", SampleImages.reconstructionGrid(originals: shown.map(data.image), reconstructions: inference.reconstruct(data, shown),
                                                                      shape: shape, columns: Self.reconstructionCount),
                caption: "test images (top) and their reconstructions (below)")
        // The one place that decides what shows the latent space: a plane is drawn as such, other spaces by dimension.
        progress("the encoder means")
        let encoded = Array(0..<min(Self.encodedCount, data.count)), means = inference.encode(data, encoded).means
        if a.zDim == 2 {
            try add("latent.png", SampleImages.latentScatter(means: means, labels: test.labels, classNames: config.data.classNames),
                    caption: "encoder means of the first \(encoded.count) test images" + (test.labels == nil ? "" : ", coloured by label"))
            try add("manifold.png", SampleImages.grid(inference.decode(SampleImages.manifoldLatents(side: Self.manifoldSide)),
                                                      shape: shape, columns: Self.manifoldSide, padding: 0),
                    caption: "the decoder over the prior's quantiles 0.05…0.95 (z₁ across, z₂ up)")
        } else {
            try add("latent-histograms.png", LatentHistograms.render(means: means, zDim: a.zDim),
                    caption: "encoder means of the first \(encoded.count) test images in each of the first "
                        + "\(min(LatentHistograms.shownDimensions, a.zDim)) dimensions (bars) against the density of N(0, 1) (curve)")
        }
        return figures
    }
}
