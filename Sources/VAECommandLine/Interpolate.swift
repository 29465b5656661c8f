// `vae interpolate`: the book's morph between two images: their encoder means joined by a straight line in
// latent space, decoded at evenly spaced points, between the two originals.

import ArgumentParser
import VAEReport

struct Interpolate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Morph between two images of an IDX file through the latent space (PNG).")

    @OptionGroup var checkpoint: CheckpointOption

    @OptionGroup var data: ImagesOption

    @Option(help: "Index of the first image.")
    var from: Int

    @Option(help: "Index of the last image.")
    var to: Int

    @Option(help: "Decoded points on the way, both ends included.")
    var steps = 10

    @OptionGroup var out: PictureOption

    func validate() throws {
        try check(steps, atLeast: 2, option: "--steps")
        try check(from, atLeast: 0, option: "--from")
        try check(to, atLeast: 0, option: "--to")
    }

    func run() throws {
        try withTrainedModel(checkpoint) { trained in
            try SampleImages.checkDrawable(trained.config.model)
            let images = try data.load(for: trained)
            try check(index: from, option: "--from", in: images)
            try check(index: to, option: "--to", in: images)
            let means = trained.inference.encode(images, [from, to]).means, zDim = trained.inference.zDim
            let line = SampleImages.interpolationLatents(from: Array(means[0..<zDim]), to: Array(means[zDim...]), steps: steps)
            let row = [images.image(from)] + trained.inference.decode(line) + [images.image(to)]
            try out.write(SampleImages.grid(row, shape: trained.imageShape, columns: row.count))
        }
    }
}
