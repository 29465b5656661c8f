// ImageDataset: images from an IDX file, kept as bytes (a quarter of the memory of Floats) and scaled to
// [0, 1] only when a batch is gathered. Layout NHWC: (count, height, width[, channels]).

import VAEMath
import VAESupport

public struct ImageDataset {
    public let path: String
    public let count, height, width, channels: Int
    private let bytes: [UInt8]

    /// Loads `path`; `limit` > 0 keeps only the first `limit` images.
    public init(path: String, limit: Int = 0) throws {
        let file = try IDXFile(contentsOf: path)
        let d = file.dimensions
        guard d.count == 3 || d.count == 4 else {
            throw VAEError("\(path): IDX file of shape \(d) is not a set of images (expected count×height×width[×channels])")
        }
        self.path = path
        count = limit > 0 ? min(limit, d[0]) : d[0]
        height = d[1]
        width = d[2]
        channels = d.count == 4 ? d[3] : 1
        bytes = Array(file.bytes[0..<(count * height * width * channels)])
    }

    public var imageShape: [Int] { [height, width, channels] }

    /// Throws unless the images have the model's input shape; `source` names where the file was given.
    public func check(fits model: Architecture, source: String) throws {
        let input = [model.inputHeight, model.inputWidth, model.inputChannels]
        guard imageShape == input else {
            throw VAEError("\(source): \(path) holds \(formatShape(imageShape)) images but model.input_shape is \(formatShape(input))")
        }
    }

    /// One image, scaled to [0, 1].
    public func image(_ index: Int) -> [Float] {
        let one = Tensor(batch: 1, itemShape: imageShape)
        gather([index], into: one)
        return one.array
    }

    /// Copies the images at `indices`, scaled to [0, 1], into `batch` (resized to `indices.count`).
    public func gather(_ indices: some Collection<Int>, into batch: Tensor) {
        precondition(batch.itemShape == imageShape, "gathering \(imageShape) images into a \(batch.itemShape) tensor")
        batch.resize(batch: indices.count)
        let size = height * width * channels
        bytes.withUnsafeBufferPointer { source in
            var destination = batch.pointer
            for index in indices {
                precondition(index >= 0 && index < count, "image \(index) out of 0..<\(count) in \(path)")
                let image = source.baseAddress! + index * size
                for p in 0..<size { destination[p] = Float(image[p]) / 255 }
                destination += size
            }
        }
    }
}
