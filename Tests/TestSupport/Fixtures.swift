// Helpers the tests share: small IDX files written on the spot, a held-out set, a tiny RGB run, a PNG
// decoder and VAEError checks.

import CZlib
import Foundation
import Testing
import VAEConfig
import VAEData
import VAEMath
import VAEReport
import VAESupport
import VAETraining

@discardableResult
public func write(_ bytes: [UInt8], to url: URL) -> String {
    try! Data(bytes).write(to: url)
    return url.path
}

/// gzip-compresses with the system's gzip, as the data sets are shipped.
public func gzip(_ path: String) -> String {
    _ = try! runProcess(["/bin/gzip", "-kf", path])
    return path + ".gz"
}

/// `count` images of `height`×`width`, pixel values a simple function of position.
public func imageFile(count: Int, height: Int = 28, width: Int = 28) -> IDXFile {
    IDXFile(dimensions: [count, height, width], bytes: (0..<(count * height * width)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
}

/// Expects `body` to throw a VAEError whose message contains every fragment.
public func expectVAEError(_ fragments: String..., body: () throws -> Void) -> String? {
    do { try body() } catch let error as VAEError {
        return fragments.allSatisfy { error.message.contains($0) } ? nil : "message lacks \(fragments): \(error.message)"
    } catch { return "unexpected error \(error)" }
    return "no error thrown"
}

/// A test that needs root, and why: mounts, network namespaces, a Slurm cluster.
public func needsRoot(_ why: String) -> ConditionTrait { .enabled(if: geteuid() == 0, "needs root: \(why)") }

/// The disk tests' small file systems (TemporaryMounts) need root.
public let mountingNeedsRoot = needsRoot("mounting a small file system")

/// The default training images: Fashion-MNIST's.
public let fashionTrain = TrainingConfig.Data().train

/// A small held-out set (`count` images, labels cycling through 0–9), so runs write their samples quickly.
public func smallTestSet(in directory: URL, count: Int = 40) -> (images: String, labels: String) {
    (write(imageFile(count: count).encoded, to: directory.appendingPathComponent("test-images")),
     write(IDXFile(dimensions: [count], bytes: (0..<count).map { UInt8($0 % 10) }).encoded, to: directory.appendingPathComponent("test-labels")))
}

/// A tiny colour model: 16×16×3 images, z_dim 8, two stride-2 convolutions each way.
public let tinyRGBModel = Architecture(inputHeight: 16, inputWidth: 16, inputChannels: 3,
                                encoder: [ConvSpec(filters: 8, kernel: 3, stride: 2), ConvSpec(filters: 8, kernel: 3, stride: 2)],
                                decoder: [ConvSpec(filters: 8, kernel: 3, stride: 2), ConvSpec(filters: 3, kernel: 3, stride: 2)],
                                zDim: 8)

/// `count` 16×16×3 images: image 0 pure red, image 1 pure green, the rest a simple function of position.
public func rgbImageFile(count: Int) -> IDXFile {
    let size = 16 * 16 * 3
    return IDXFile(dimensions: [count, 16, 16, 3], bytes: (0..<(count * size)).map { i in
        switch (i / size, i % 3) {
        case (0, 0), (1, 1): 255
        case (0, _), (1, _): 0
        default: UInt8(truncatingIfNeeded: i &* 7)
        }
    })
}

/// One run of `tinyRGBModel`, trained once for every test that looks at it: 1 epoch on 64 colour images (from
/// `rgbImageFile`), which are also its test set, so its pictures start with a red and a green image.
public let rgbRun: (out: String, checkpoint: String, data: String) = {
    let directory = temporaryDirectory()
    var config = TrainingConfig()
    config.architecture = tinyRGBModel
    config.data.train = write(rgbImageFile(count: 64).encoded, to: directory.appendingPathComponent("rgb-images"))
    config.data.test = config.data.train
    config.data.testLabels = write(IDXFile(dimensions: [64], bytes: (0..<64).map { UInt8($0 % 10) }).encoded,
                                   to: directory.appendingPathComponent("rgb-labels"))
    config.training.epochs = 1
    config.output.directory = directory.appendingPathComponent("run").path
    let trainer = try! Trainer(config: config)
    trainer.pictures = SampleWriter.drawing(config: config, stepsPerEpoch: trainer.sampler.stepsPerEpoch)
    _ = try! trainer.run(log: { _ in })
    return (config.output.directory, config.output.directory + "/checkpoints/latest", config.data.test)
}()

/// What a minimal independent decoder extracts from an 8-bit grey or RGB PNG: the writer's output, read without its code.
public struct DecodedPNG {
    public var width = 0, height = 0, bitDepth = 0, colourType = 0
    public var chunkTypes: [String] = []
    public var pixels: [UInt8] = []

    /// The bytes of the pixel at (x, y): one for grey (colour type 0), three for RGB (colour type 2).
    public func pixel(x: Int, y: Int) -> [UInt8] {
        let channels = colourType == 2 ? 3 : 1, base = (y * width + x) * channels
        return Array(pixels[base..<(base + channels)])
    }
}

private func bigEndian(_ bytes: [UInt8], _ at: Int) -> Int {
    bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
}

/// `decodePNG` of the file at `path`.
public func decodePNG(file path: String) throws -> DecodedPNG {
    try decodePNG(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
}

public func decodePNG(_ png: [UInt8]) throws -> DecodedPNG {
    try #require(png.count > 8)
    #expect(Array(png[0..<8]) == ImageDecoder.pngSignature)
    var result = DecodedPNG()
    var idat: [UInt8] = []
    var offset = 8
    while offset < png.count {
        try #require(offset + 12 <= png.count)
        let length = bigEndian(png, offset)
        try #require(offset + 12 + length <= png.count)
        let typeAndData = Array(png[(offset + 4)..<(offset + 8 + length)])
        let type = String(decoding: typeAndData[0..<4], as: UTF8.self)
        let expectedCRC = typeAndData.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        #expect(bigEndian(png, offset + 8 + length) == Int(expectedCRC), "bad CRC in \(type)")
        let data = Array(typeAndData[4...])
        result.chunkTypes.append(type)
        switch type {
        case "IHDR":
            try #require(data.count == 13)
            result.width = bigEndian(data, 0)
            result.height = bigEndian(data, 4)
            result.bitDepth = Int(data[8])
            result.colourType = Int(data[9])
            #expect(Array(data[10...]) == [0, 0, 0])
        case "IDAT":
            idat += data
        default:
            break
        }
        offset += 12 + length
    }
    let channels = result.colourType == 2 ? 3 : 1
    let rowBytes = result.width * channels
    var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * result.height)
    var rawLength = uLongf(raw.count)
    let status = raw.withUnsafeMutableBufferPointer { dst in
        idat.withUnsafeBufferPointer { src in uncompress(dst.baseAddress, &rawLength, src.baseAddress, uLong(src.count)) }
    }
    try #require(status == Z_OK)
    try #require(Int(rawLength) == raw.count)
    // Each row's filter (PNG spec, section 9): None, Sub, Up, Average or Paeth, against the row decoded before.
    var previous = [UInt8](repeating: 0, count: rowBytes)
    for row in 0..<result.height {
        let start = row * (rowBytes + 1), filter = raw[start]
        try #require(filter <= 4, "row \(row): filter \(filter)")
        var line = Array(raw[(start + 1)..<(start + 1 + rowBytes)])
        for i in 0..<rowBytes {
            let a = i >= channels ? Int(line[i - channels]) : 0, b = Int(previous[i]), c = i >= channels ? Int(previous[i - channels]) : 0
            let predictor: Int
            switch filter {
            case 1: predictor = a
            case 2: predictor = b
            case 3: predictor = (a + b) / 2
            case 4:
                let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
            default: predictor = 0
            }
            line[i] = UInt8(truncatingIfNeeded: Int(line[i]) + predictor)
        }
        result.pixels += line
        previous = line
    }
    return result
}
