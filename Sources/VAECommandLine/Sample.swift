// `vae sample`: new images from a checkpoint: points z ~ N(0, I) through the decoder, as a grid.

import ArgumentParser
import VAEReport

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode points drawn from the prior N(0, I) into a grid of images (PNG).")

    @OptionGroup var checkpoint: CheckpointOption

    @Option(help: "How many images.")
    var count = 100

    @OptionGroup var out: PictureOption

    @Option(help: "Seed of the draws (default: the run's training.seed, which draws the z of its samples/*/prior.png).")
    var seed: Int?

    func validate() throws {
        try check(count, atLeast: 1, option: "--count")
        try check(seed ?? 0, atLeast: 0, option: "--seed")
    }

    func run() throws {
        try withTrainedModel(checkpoint) { trained in
            try SampleImages.checkDrawable(trained.config.architecture)
            let z = SampleImages.priorLatents(count: count, zDim: trained.inference.zDim, seed: UInt64(seed ?? trained.config.training.seed))
            let columns = Int(Double(count).squareRoot().rounded(.up))
            try out.write(SampleImages.grid(trained.inference.decode(z), shape: trained.imageShape, columns: columns))
        }
    }
}
