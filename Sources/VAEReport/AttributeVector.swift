// AttributeVector: the book's latent arithmetic on faces (03_06_vae_faces_analysis.ipynb). An attribute's
// vector is the mean encoder mean of images with the attribute minus that of images without, normalised;
// adding multiples of it to a face's latent point adds or removes the attribute.

import VAEData
import VAESupport

public enum AttributeVector {
    /// The book's factors: each face decoded at its latent point plus factor × the vector.
    public static let factors: [Float] = [-4, -3, -2, -1, 0, 1, 2, 3, 4]

    /// The unit vector of `attribute` over up to `limit` images with it and `limit` without, those of `table`'s
    /// images that `images` holds; throws when either side has none.
    public static func compute(_ attribute: String, table: AttributeTable, images: ImageDataset, inference: Inference,
                               limit: Int = 10_000) throws -> [Float] {
        let (with, without) = try table.split(by: attribute)
        func mean(_ names: [String], _ side: String) throws -> [Double] {
            let found = Array(names.compactMap(images.index(ofName:)).prefix(limit))
            guard !found.isEmpty else {
                throw VAEError("\(table.path): none of the images \(side) \(attribute) is in \(images.path)")
            }
            var sum = [Double](repeating: 0, count: inference.zDim)
            let means = inference.encode(images, found).means
            for (i, value) in means.enumerated() { sum[i % inference.zDim] += Double(value) }
            return sum.map { $0 / Double(found.count) }
        }
        let difference = zip(try mean(with, "with"), try mean(without, "without")).map { $0 - $1 }
        let norm = difference.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { throw VAEError("\(attribute): the images with and without it have the same mean latent point") }
        return difference.map { Float($0 / norm) }
    }

    /// The book's strip: a row per face of `faces`, its original and then its decodings at each of `factors`.
    public static func strip(_ vector: [Float], faces: [Int], images: ImageDataset, inference: Inference) -> [[Float]] {
        let means = inference.encode(images, faces).means, zDim = inference.zDim
        var rows: [[Float]] = []
        for (row, face) in faces.enumerated() {
            let point = means[(row * zDim)..<((row + 1) * zDim)]
            let moved = factors.flatMap { factor in zip(point, vector).map { $0 + factor * $1 } }
            rows += [images.image(face)] + inference.decode(moved)
        }
        return rows
    }
}
