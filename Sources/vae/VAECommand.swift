// The `vae` command line: a thin layer over VAETraining. Errors meant for people are printed as one line
// on stderr with exit status 2.

import ArgumentParser
import Foundation
import VAETraining

@main
struct VAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Train the GDL_code convolutional VAE, in Swift.",
        subcommands: [Train.self])
}

/// Runs `body`, turning a TrainingError into one line on stderr and exit status 2.
func reportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let error as TrainingError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(2)
    }
}

/// Writes a line straight to stdout: unbuffered, so lines appear as they happen under mpirun or a pipe.
func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
