// `vae config`: the complete config a run would use (a file's settings, its --set overrides, every other
// setting's default), as commented YAML that `vae train --config` reads back to the same run; or, with
// --reference, docs/config.md.

import ArgumentParser
import Foundation
import VAECommunication
import VAEConfig

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the complete config a run would use, as commented YAML that `vae train --config` reads back.")

    @OptionGroup var settings: ConfigOptions

    @Flag(help: "Print the reference of every setting (docs/config.md) instead.")
    var reference = false

    func run() throws {
        guard !reference else { return printLine(TrainingConfig.reference) }
        try reportingErrors(SingleProcessCommunicator()) {
            let config = try settings.load()
            printLine("# vae config --config \(settings.config)" + settings.overrides.map { " --set \($0)" }.joined()
                      + "\n# Every setting of the run, each under what it does; `vae train --config` reads this file back.\n" + config.yaml)
        }
    }
}
