// What the commands on a checkpoint (sample, reconstruct, interpolate, eval) share: the --checkpoint, --data
// and --out options, one process whose errors are one line and exit status 2, checks of numeric options.

import ArgumentParser
import Foundation
import VAECommunication
import VAEData
import VAEReport
import VAESupport

struct CheckpointOption: ParsableArguments {
    @Option(help: ArgumentHelp("A checkpoint directory: OUT/checkpoints/step-NNNNNNNN, OUT/checkpoints/latest or OUT/checkpoints/best.",
                               valueName: "PATH"))
    var checkpoint: String

    @Option(help: "ema: the weights' moving average when the checkpoint kept one (training.ema_decay), else the weights; raw: the weights.")
    var weights = TrainedModel.Weights.preferAverage
}

extension TrainedModel.Weights: ExpressibleByArgument {}

/// Loads the checkpoint's model and runs `body` with it; a VAEError becomes one line on stderr and exit status 2.
func withTrainedModel(_ option: CheckpointOption, _ body: (TrainedModel) throws -> Void) throws {
    try reportingErrors(SingleProcessCommunicator()) {
        try body(TrainedModel(checkpoint: option.checkpoint, weights: option.weights, convolutionBackend: try convolutionBackend(default: nil)))
    }
}

/// For `validate()`: a usage error unless `value` is at least `minimum`; `option` names it in the message.
func check(_ value: Int, atLeast minimum: Int, option: String) throws {
    guard value >= minimum else { throw ValidationError("\(option) \(value): must be at least \(minimum)") }
}

/// The image `image` names in `data`: an index, or a folder's file name (the book morphs 000238.jpg into 000193.jpg).
func index(of image: String, option: String, in data: ImageDataset) throws -> Int {
    guard let index = Int(image) else {
        do { return try data.index(named: image) } catch let error as VAEError { throw VAEError("\(option) \(image): \(error.message)") }
    }
    guard (0..<data.count).contains(index) else {
        throw VAEError("\(option) \(index): \(data.path) has \(data.count) images (indices 0 to \(data.count - 1))")
    }
    return index
}

struct ImagesOption: ParsableArguments {
    @Option(name: .customLong("data"), help: ArgumentHelp(
        "An IDX file of images the model's size (gzipped or raw), e.g. the data set's test file, or a folder of JPEG/PNG images (resized as the run's data.resize says).",
        valueName: "PATH"))
    var path: String

    func load(for trained: TrainedModel) throws -> ImageDataset { try trained.images(path, source: "--data") }
}

struct PictureOption: ParsableArguments {
    @Option(name: .customLong("out"), help: ArgumentHelp("The PNG file to write.", valueName: "FILE"))
    var path: String

    func write(_ image: RasterImage) throws {
        let bytes: [UInt8]
        do { bytes = try ImageEncoder.pngData(image) } catch let error as VAEError { throw VAEError("\(path): \(error.message)") }
        try DurableFiles.write(bytes, to: path)
        printLine("wrote \(path) (\(image.width)×\(image.height))")
    }
}
