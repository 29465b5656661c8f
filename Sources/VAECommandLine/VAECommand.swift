// The `vae` command line: a thin layer over the rooms below. Errors meant for people are one line on stderr:
// exit status 64 for a wrong command line, 2 for bad input (config, data, checkpoint); under mpirun the line
// names the rank and the whole job is aborted.

import ArgumentParser
import Foundation
import VAECommunication
import VAESupport
import VAETraining

public struct VAECommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Train the GDL_code convolutional VAE, in Swift.",
        subcommands: [Train.self, ConfigCommand.self, Sample.self, Reconstruct.self, Interpolate.self, Attribute.self, Eval.self, Bench.self, BenchAllreduce.self, MakeImages.self])

    /// Usage errors (an unknown option, a missing or invalid value, a failed `validate()`) print one line and
    /// exit 64 (EX_USAGE); errors in the input (config, data, checkpoints) exit 2, see `reportingErrors`.
    public init() {}

    /// What a program built on this command line changes in the commands' parts: nothing in `vae`; the
    /// test-only `vae-fault-injection` wraps the communicator and the trainer's to cause faults on cue.
    public struct Customization: Sendable {
        /// Wraps every command's communicator.
        public var communicator: @Sendable (Communicator) -> Communicator = { $0 }
        /// What `vae train` does to its trainer before the run.
        public var trainer: @Sendable (Trainer) -> Void = { _ in }

        public init() {}
    }

    /// Set once, by `main`, before any command runs.
    nonisolated(unsafe) static var customization = Customization()

    public static func main(_ customization: Customization) {
        self.customization = customization
        main()
    }

    public static func main() {
        let command: ParsableCommand
        do { command = try parseAsRoot() } catch {
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) }  // --help, --version
            FileHandle.standardError.write(Data("error: \(message(for: error)) (see vae --help)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = command
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// Runs `body`; a VAEError or CommunicationError becomes one line on stderr and exit status 2,
/// and with several ranks, MPI_Abort so no rank is left waiting in a collective.
func reportingErrors(_ communicator: Communicator, _ body: () throws -> Void) throws {
    let message: String
    do { try body(); return } catch let error as VAEError {
        message = error.message
    } catch let error as CommunicationError {
        message = error.message
    }
    FileHandle.standardError.write(Data("error: \(communicator.rankLabel)\(message)\n".utf8))
    if communicator.size > 1 { communicator.abort(code: 2) }
    throw ExitCode(2)
}

/// Writes a line straight to stdout: unbuffered, so lines appear as they happen under mpirun or a pipe.
func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
