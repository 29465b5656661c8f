// SyntheticFolder: a learnable image folder for trying the faces config without downloading anything, and
// the end-to-end tests' data: Fashion-MNIST items stretched to size×size, drawn in their class's colour on a
// pale ground, as numbered JPEGs (000001.jpg, … as CelebA names its photos), with an attributes file in the
// layout of the book's list_attr_celeba.csv.

import Foundation
import VAESupport

public enum SyntheticFolder {
    /// The attributes file written beside the images, and the attributes it marks (1) or not (−1) per class.
    public static let attributesFile = "list_attr.csv"
    public static let attributes: [(name: String, classes: Set<Int>)] = [
        ("Footwear", [5, 7, 9]), ("Top", [0, 2, 4, 6]), ("Long_Sleeves", [2, 4, 6]),
    ]
    /// One colour a class, far enough apart to tell at a glance.
    static let palette: [[Float]] = [
        [200, 40, 40], [40, 110, 200], [40, 150, 60], [150, 60, 170], [230, 130, 20],
        [20, 150, 150], [120, 80, 40], [210, 60, 140], [90, 90, 90], [30, 40, 120],
    ]
    static let ground: [Float] = [240, 232, 218]

    /// Writes the first `count` items of the IDX `images` and `labels` into `directory` as size×size JPEGs.
    public static func write(to directory: String, count: Int, size: Int, images: String, labels: String) throws {
        let items = try IDXFile(contentsOf: images), classes = try IDXFile(contentsOf: labels)
        let d = items.dimensions
        guard d.count == 3, classes.dimensions == [d[0]] else {
            throw VAEError("\(images), \(labels): expected grey images and one label per image")
        }
        guard count <= d[0] else { throw VAEError("\(images): has \(d[0]) images, fewer than the \(count) asked for") }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw VAEError("\(directory): cannot create the folder (\(error.localizedDescription))")
        }
        let side = d[1] * d[2]
        var table = "image_id," + attributes.map(\.name).joined(separator: ",") + "\n"
        for index in 0..<count {
            let item = RasterImage(height: d[1], width: d[2], channels: 1, pixels: Array(items.bytes[(index * side)..<((index + 1) * side)]))
                .resized(height: size, width: size, mode: .stretch)
            let label = Int(classes.bytes[index]), name = String(format: "%06d.jpg", index + 1)
            try DurableFiles.write(ImageEncoder.jpegData(tinted(item, colour: palette[label % palette.count]), quality: 95),
                                   to: directory + "/" + name)
            table += name + "," + attributes.map { $0.classes.contains(label) ? "1" : "-1" }.joined(separator: ",") + "\n"
        }
        try DurableFiles.write(Array(table.utf8), to: directory + "/" + attributesFile)
    }

    /// Ink (the grey item's brightness) in `colour`, the rest the pale ground.
    static func tinted(_ item: RasterImage, colour: [Float]) -> RasterImage {
        var pixels = [UInt8](repeating: 0, count: item.pixels.count * 3)
        for (p, grey) in item.pixels.enumerated() {
            let ink = Float(grey) / 255
            for c in 0..<3 { pixels[3 * p + c] = UInt8((ground[c] + ink * (colour[c] - ground[c])).rounded()) }
        }
        return RasterImage(height: item.height, width: item.width, channels: 3, pixels: pixels)
    }
}
