// `vae attribute`: the book's latent arithmetic on a checkpoint: an attribute's vector (say Smiling or
// Eyeglasses) from an attributes file over a folder of images, added to faces at factors −4 … 4.

import ArgumentParser
import VAEData
import VAEReport

struct Attribute: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add an attribute's latent vector to faces at factors -4 ... 4, as the book's strip (PNG).")

    @OptionGroup var checkpoint: CheckpointOption

    @OptionGroup var data: ImagesOption

    @Option(help: ArgumentHelp("CelebA's attributes: the book's list_attr_celeba.csv or the original list_attr_celeba.txt.", valueName: "FILE"))
    var attributes: String

    @Option(help: "The attribute, a column of the file, e.g. Smiling or Eyeglasses.")
    var name: String

    @Option(help: "Images with the attribute, and images without, averaged at most.")
    var limit = 10_000

    @Option(help: "Faces in the strip: the folder's first ones.")
    var faces = 5

    @OptionGroup var out: PictureOption

    func validate() throws {
        try check(limit, atLeast: 1, option: "--limit")
        try check(faces, atLeast: 1, option: "--faces")
    }

    func run() throws {
        try withTrainedModel(checkpoint) { trained in
            let images = try data.load(for: trained), table = try AttributeTable(contentsOf: attributes)
            let vector = try AttributeVector.compute(name, table: table, images: images, inference: trained.inference, limit: limit)
            let rows = AttributeVector.strip(vector, faces: Array(0..<min(faces, images.count)), images: images, inference: trained.inference)
            try out.write(SampleImages.grid(rows, shape: trained.imageShape, columns: 1 + AttributeVector.factors.count))
        }
    }
}
