// The `vae` command line: a thin layer over VAETraining. Errors meant for people are printed as one line
// on stderr with exit status 2; under mpirun the line names the rank and the whole job is aborted.

import ArgumentParser
import Foundation
import VAECommunication
import VAESupport

@main
struct VAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "Train the GDL_code convolutional VAE, in Swift.",
        subcommands: [Train.self, Sample.self, Reconstruct.self, Interpolate.self, Eval.self, Bench.self])

    /// `--resume` may stand alone; give it the placeholder value so the parser sees an option with a value.
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let i = arguments.firstIndex(of: "--resume"), i + 1 == arguments.count || arguments[i + 1].hasPrefix("-") {
            arguments.insert(Train.newestCheckpoint, at: i + 1)
        }
        main(arguments)
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
    let rank = communicator.size > 1 ? "rank \(communicator.rank) of \(communicator.size): " : ""
    FileHandle.standardError.write(Data("error: \(rank)\(message)\n".utf8))
    if communicator.size > 1 { communicator.abort(code: 2) }
    throw ExitCode(2)
}

/// Writes a line straight to stdout: unbuffered, so lines appear as they happen under mpirun or a pipe.
func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
