// `vae interpolate`: the book's morph between two images: their encoder means joined by a straight line in
// latent space, decoded at evenly spaced points, between the two originals.

import ArgumentParser
import VAEReport

struct Interpolate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Morph between two images of an IDX file or folder through the latent space (PNG).")

    @OptionGroup var checkpoint: CheckpointOption

    @OptionGroup var data: ImagesOption

    @Option(help: "The first image: its index, or a folder's file name such as 000238.jpg.")
    var from: String

    @Option(help: "The last image: its index, or a folder's file name.")
    var to: String

    @Option(help: "Decoded points on the way, both ends included.")
    var steps = 10

    @OptionGroup var out: PictureOption

    func validate() throws {
        try check(steps, atLeast: 2, option: "--steps")
    }

    func run() throws {
        try withTrainedModel(checkpoint) { trained in
            try SampleImages.checkDrawable(trained.config.architecture)
            let images = try data.load(for: trained)
            let first = try index(of: from, option: "--from", in: images), last = try index(of: to, option: "--to", in: images)
            let means = trained.inference.encode(images, [first, last]).means, zDim = trained.inference.zDim
            let line = SampleImages.interpolationLatents(from: Array(means[0..<zDim]), to: Array(means[zDim...]), steps: steps)
            let row = [images.image(first)] + trained.inference.decode(line) + [images.image(last)]
            try out.write(SampleImages.grid(row, shape: trained.imageShape, columns: row.count))
        }
    }
}
