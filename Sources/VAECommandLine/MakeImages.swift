// `vae make-images`: a folder of RGB JPEGs to train the faces config on without downloading anything
// (SyntheticFolder: Fashion-MNIST items, stretched and tinted by class), with a CelebA-style attributes file.

import ArgumentParser
import Foundation
import VAECommunication
import VAEConfig
import VAEData

struct MakeImages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-images",
        abstract: "Write a learnable folder of RGB JPEGs (Fashion-MNIST items, tinted by class) and its list_attr.csv.")

    @Argument(help: ArgumentHelp("The folder to write.", valueName: "DIR"))
    var directory: String

    @Option(help: "How many images.")
    var count = 2000

    @Option(help: "Their width and height in pixels.")
    var size = 128

    @Option(help: "The IDX file of grey items to draw.")
    var images = TrainingConfig.Data().train

    @Option(help: "Its IDX file of class labels.")
    var labels = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"

    func validate() throws {
        try check(count, atLeast: 1, option: "--count")
        try check(size, atLeast: 1, option: "--size")
    }

    func run() throws {
        try reportingErrors(SingleProcessCommunicator()) {
            try SyntheticFolder.write(to: directory, count: count, size: size, images: images, labels: labels)
            printLine("wrote \(count) JPEGs of \(size)×\(size)×3 and \(SyntheticFolder.attributesFile) to \(directory)")
        }
    }
}
