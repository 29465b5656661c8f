// `vae reconstruct`: the first images of a file, each above its reconstruction (decoded from the encoder's mean).

import ArgumentParser
import VAEReport

struct Reconstruct: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Encode and decode the first images of an IDX file: originals above their reconstructions (PNG).")

    @OptionGroup var checkpoint: CheckpointOption

    @OptionGroup var data: ImagesOption

    @Option(help: "How many images, 10 to a row.")
    var count = 10

    @OptionGroup var out: PictureOption

    func validate() throws { try check(count, atLeast: 1, option: "--count") }

    func run() throws {
        try withTrainedModel(checkpoint) { trained in
            try SampleImages.checkDrawable(trained.config.architecture)
            let images = try data.load(for: trained)
            let shown = Array(0..<min(count, images.count))
            let grid = SampleImages.reconstructionGrid(originals: shown.map(images.image), reconstructions: trained.inference.reconstruct(images, shown),
                                                       shape: trained.imageShape, columns: min(10, shown.count))
            try out.write(grid)
        }
    }
}
