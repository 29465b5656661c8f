// `vae train`: load a config, apply overrides, train.

import ArgumentParser
import Foundation
import VAETraining

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a VAE from a YAML config.")

    @Option(help: "The YAML config file.")
    var config: String

    @Option(name: .customLong("set"), help: "Override a config value: key.path=value (repeatable).")
    var overrides: [String] = []

    @Option(help: "The run's output directory (overrides output.dir).")
    var out: String?

    func run() throws {
        try reportingErrors {
            var settings = try TrainingConfig.load(path: config, overrides: overrides)
            if let out { settings.output.directory = out }
            let trainer = try Trainer(config: settings)
            trainer.run(log: printLine)
        }
    }
}
