// ImageDataset: the images of an IDX file or of a folder of JPEG/PNG files, kept as bytes (a quarter of the
// memory of Floats) and scaled to [0, 1] only when a batch is gathered. Layout NHWC: (count, height, width,
// channels). A folder's images come from its decoded cache (ImageCache), mapped rather than read; synthetic
// images (`vae bench --synthetic`) are made in memory.

import Foundation
import VAEMath
import VAESupport

public struct ImageDataset {
    public let path: String
    public let count, height, width, channels: Int
    /// A folder's files, relative to it, image by image; empty for an IDX file.
    public let names: [String]
    /// Each image's index by its name relative to the folder, and by its file name alone where no other
    /// file shares it (CelebA's attribute files and the book's notebooks name photos so).
    private let indexByName: [String: Int]
    /// A folder's undecodable files left out under data.bad_images skip, each as a message naming it.
    public let skipped: [String]
    private let bytes: ImageBytes
    private let firstPixel: Int
    /// The cache slot of each image, where undecodable files were skipped; nil: image i is slot i.
    private let slots: [Int]?

    /// The images of the IDX file at `path`; `limit` > 0 keeps only the first `limit`.
    public init(path: String, limit: Int = 0) throws {
        let file = try IDXFile(contentsOf: path)
        let d = file.dimensions
        guard d.count == 3 || d.count == 4 else {
            throw VAEError("\(path): IDX file of shape \(d) is not a set of images (expected count×height×width[×channels])")
        }
        self.path = path
        count = limit > 0 ? min(limit, d[0]) : d[0]
        (height, width, channels) = (d[1], d[2], d.count == 4 ? d[3] : 1)
        bytes = ImageBytes(Array(file.bytes[0..<(count * height * width * channels)]))
        (names, indexByName, skipped, firstPixel, slots) = ([], [:], [], 0, nil)
    }

    /// `count` images of `imageShape` ([height, width, channels]) in memory, every byte uniformly random and
    /// a pure function of (`seed`, image, byte's place): data of any config's input shape for timing, without files.
    /// Its `path` is "synthetic".
    public init(synthetic count: Int, imageShape: [Int], seed: UInt64 = 0) {
        precondition(count > 0 && imageShape.count == 3 && imageShape.allSatisfy { $0 > 0 }, "\(count) synthetic images of \(imageShape)")
        let size = imageShape.reduce(1, *)
        var pixels = [UInt8](repeating: 0, count: count * size)
        pixels.withUnsafeMutableBytes { out in
            for image in 0..<count {
                for chunk in stride(from: 0, to: size, by: 8) {  // 8 bytes a draw
                    let bits = CounterRandom.bits(seed: seed, purpose: .syntheticImages, UInt64(image), UInt64(chunk / 8), 0)
                    for byte in chunk..<min(chunk + 8, size) { out[image * size + byte] = UInt8(truncatingIfNeeded: bits >> (8 * (byte - chunk))) }
                }
            }
        }
        path = "synthetic"
        self.count = count
        (height, width, channels) = (imageShape[0], imageShape[1], imageShape[2])
        bytes = ImageBytes(pixels)
        (names, indexByName, skipped, firstPixel, slots) = ([], [:], [], 0, nil)
    }

    /// The images at `path`: an IDX file as it is, or a folder's files decoded (through the cache in
    /// `folder.cacheDirectory`) and resized to `imageShape` ([height, width, channels]) by `folder.resize`.
    public static func load(_ path: String, folder settings: FolderSettings, imageShape: [Int], limit: Int = 0,
                            build: CacheBuild = CacheBuild()) throws -> ImageDataset {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw VAEError("\(path): no such data file or folder") }
        guard isFolder.boolValue else { return try ImageDataset(path: path, limit: limit) }
        let folder = try ImageFolder(path: path, limit: limit)
        let (bytes, pixelOffset) = try ImageCache.open(folder, imageShape: imageShape, resize: settings.resize,
                                                       directory: settings.cacheDirectory, build: build)
        return try ImageDataset(folder: folder, imageShape: imageShape, bytes: bytes, pixelOffset: pixelOffset, badImages: settings.badImages)
    }

    private init(folder: ImageFolder, imageShape: [Int], bytes: ImageBytes, pixelOffset: Int, badImages: BadImages) throws {
        let layout = ImageCache.Layout(count: folder.files.count, imageShape: imageShape)
        let bad = (0..<layout.count).filter { layout.status(bytes, index: $0) == .undecodable }
        // The cache keeps only that a file failed; decoding it again says why.
        func message(_ slot: Int) -> String {
            do {
                _ = try ImageDecoder.decode(contentsOf: folder.path(of: slot), channels: layout.channels)
                return "\(folder.path(of: slot)): could not be decoded when the cache was built"
            } catch let error as VAEError { return error.message } catch { return "\(folder.path(of: slot)): \(error)" }
        }
        if let first = bad.first, badImages == .error {
            throw VAEError("\(message(first))\(bad.count > 1 ? " (and \(bad.count - 1) more undecodable files)" : ""); data.bad_images: skip leaves them out")
        }
        guard bad.count < layout.count else { throw VAEError("\(folder.path): none of its \(layout.count) image files could be decoded") }
        let good = bad.isEmpty ? nil : Array(Set(0..<layout.count).subtracting(bad)).sorted()
        path = folder.path
        count = good?.count ?? layout.count
        (height, width, channels) = (layout.height, layout.width, layout.channels)
        names = (good ?? Array(0..<layout.count)).map { folder.files[$0].name }
        indexByName = Self.indexByName(names)
        skipped = bad.map(message)
        self.bytes = bytes
        firstPixel = pixelOffset
        slots = good
    }

    public var imageShape: [Int] { [height, width, channels] }

    /// The same images copied into this process's memory, as an IDX file's are: what a folder's mapped cache
    /// is measured against (`vae bench --in-memory`).
    public func copiedIntoMemory() -> ImageDataset {
        let size = height * width * channels
        var copy = [UInt8](repeating: 0, count: count * size)
        for index in 0..<count {
            let image = bytes.base + firstPixel + (slots?[index] ?? index) * size
            copy.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: index * size).update(from: image, count: size) }
        }
        return ImageDataset(self, bytes: ImageBytes(copy))
    }

    private init(_ other: ImageDataset, bytes: ImageBytes) {
        (path, count, height, width, channels, names, indexByName, skipped) =
            (other.path, other.count, other.height, other.width, other.channels, other.names, other.indexByName, other.skipped)
        self.bytes = bytes
        (firstPixel, slots) = (0, nil)
    }

    /// Throws unless the images have the model's input shape; `source` names where the file was given.
    public func check(fits model: Architecture, source: String) throws {
        let input = [model.inputHeight, model.inputWidth, model.inputChannels]
        guard imageShape == input else {
            throw VAEError("\(source): \(path) holds \(formatShape(imageShape)) images but model.input_shape is \(formatShape(input))")
        }
    }

    private static func indexByName(_ names: [String]) -> [String: Int] {
        let fileNames = names.map { ($0 as NSString).lastPathComponent }
        var shared: [String: Int] = [:]
        for file in fileNames { shared[file, default: 0] += 1 }
        var index: [String: Int] = [:]
        for (i, file) in fileNames.enumerated() where shared[file] == 1 { index[file] = i }
        for (i, name) in names.enumerated() { index[name] = i }  // a relative name wins over a file name
        return index
    }

    /// The index of a folder's image `name` (relative to the folder, or just its file name when that is
    /// unique), or nil.
    public func index(ofName name: String) -> Int? { indexByName[name] }

    /// `index(ofName:)`, or an error naming the folder.
    public func index(named name: String) throws -> Int {
        if let index = indexByName[name] { return index }
        let several = names.contains { ($0 as NSString).lastPathComponent == name }
        throw VAEError("\(path): \(several ? "several image files named" : "no image file named") \(name)")
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
        var destination = batch.pointer
        for index in indices {
            precondition(index >= 0 && index < count, "image \(index) out of 0..<\(count) in \(path)")
            let image = bytes.base + firstPixel + (slots?[index] ?? index) * size
            for p in 0..<size { destination[p] = Float(image[p]) / 255 }
            destination += size
        }
    }
}
