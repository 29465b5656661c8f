// TestSet: the held-out images rank 0 draws its sample images from (data.test, an IDX file or a folder), with
// their labels (data.test_labels, an IDX file; empty: none) when there are any. Every error names the config key.

import Foundation
import VAEConfig
import VAEData
import VAESupport

public struct TestSet {
    public let images: ImageDataset
    /// One class per image; nil when the default labels file is absent.
    public let labels: [Int]?

    public init(config: TrainingConfig) throws {
        let data = config.data
        images = try Self.naming("data.test") {
            try ImageDataset.load(data.test, folder: data.folderSettings, imageShape: config.model.inputShape)
        }
        try images.check(fits: config.architecture, source: "data.test")
        if data.testLabels.isEmpty || data.testLabels == TrainingConfig.Data().testLabels && !FileManager.default.fileExists(atPath: data.testLabels) {
            labels = nil
        } else {
            let count = images.count
            labels = try Self.naming("data.test_labels") { try Self.readLabels(data.testLabels, count: count) }
        }
    }

    /// A one-dimensional IDX file of `count` class numbers.
    static func readLabels(_ path: String, count: Int) throws -> [Int] {
        let file = try IDXFile(contentsOf: path)
        guard file.dimensions.count == 1 else {
            throw VAEError("\(path): IDX file of shape \(file.dimensions) is not a list of labels (expected one dimension)")
        }
        guard file.dimensions[0] == count else { throw VAEError("\(path): \(file.dimensions[0]) labels for \(count) test images") }
        return file.bytes.map(Int.init)
    }

    private static func naming<T>(_ key: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as VAEError { throw VAEError("\(key): \(error.message)") }
    }
}
