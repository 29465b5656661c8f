// `vae train`: load a config, apply overrides, join the ranks (when started by mpirun), train.

import ArgumentParser
import Foundation
import VAECheckpoint
import VAECommunication
import VAEConfig
import VAEMath
import VAESupport
import VAETraining

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a VAE from a YAML config, on one process or as every rank of `mpirun -np N vae train …`.")

    @Option(help: "The YAML config file.")
    var config: String

    @Option(name: .customLong("set"), help: "Override a config value: key.path=value (repeatable).")
    var overrides: [String] = []

    @Option(help: "The run's output directory (overrides output.dir).")
    var out: String?

    @Option(help: ArgumentHelp("Resume: alone, from the newest valid checkpoint under the output directory; with PATH, from that checkpoint directory.",
                               valueName: "PATH"))
    var resume: String?

    func run() throws {
        let communicator = try joinRanks()
        // Under mpirun a rank's stdout is a pseudo-terminal whatever mpirun writes to, so only a process started
        // directly can tell a terminal; ranks print plain lines.
        let live = !MPICommunicator.launchedByMPI && isatty(STDOUT_FILENO) != 0 ? LiveProgress { FileHandle.standardOutput.write(Data($0.utf8)) } : nil
        try reportingErrors(communicator) {
            defer { live?.clear() }  // an error line starts clean
            var settings = try TrainingConfig.load(path: config, overrides: overrides)
            if let out { settings.output.directory = out }
            try checkConvolutionBackend()
            setMathThreads(localRanks: communicator.localSize)
            let trainer = try Trainer(config: settings, communicator: communicator)
            trainer.injectedFailure = try injectedFailure()
            trainer.stopSignal = StopSignals.install()
            trainer.liveProgress = live
            let checkpoint = communicator.rank == 0 ? try resume.map { try loadCheckpoint($0, runDirectory: settings.output.directory) } : nil
            if case .stopped(let signal) = try trainer.run(resumingFrom: checkpoint, log: { live?.clear(); printLine($0) }) {
                throw ExitCode(128 + signal)  // the shell's convention for "ended by signal N"
            }
        }
    }
}

/// MPI when started by an MPI launcher, otherwise the single-process world.
func joinRanks() throws -> Communicator {
    guard MPICommunicator.launchedByMPI else { return SingleProcessCommunicator() }
    do { return try MPICommunicator() } catch let error as CommunicationError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(2)
    }
}

/// Each rank gets cores ÷ ranks-on-this-node threads (at least 1) for OpenBLAS and oneDNN alike, unless the
/// user chose with OPENBLAS_NUM_THREADS or OMP_NUM_THREADS (either sets both).
func setMathThreads(localRanks: Int) {
    let environment = ProcessInfo.processInfo.environment
    let chosen = (environment["OPENBLAS_NUM_THREADS"] ?? environment["OMP_NUM_THREADS"]).flatMap { Int($0) }
    Kernels.setThreadCount(chosen ?? max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, localRanks)))
}

/// VAE_CONV_BACKEND, when set, must name a backend (the layers read it themselves).
func checkConvolutionBackend() throws {
    let name = ConvolutionBackend.environmentVariable
    guard let value = ProcessInfo.processInfo.environment[name], ConvolutionBackend(rawValue: value) == nil else { return }
    let known = ConvolutionBackend.allCases.map(\.rawValue).joined(separator: ", ")
    throw VAEError("\(name)=\(value): expected one of \(known)")
}

/// VAE_FAIL_AT_STEP=RANK:STEP makes that rank throw at that global step: a test switch for failure handling.
func injectedFailure() throws -> (rank: Int, step: Int)? {
    guard let value = ProcessInfo.processInfo.environment["VAE_FAIL_AT_STEP"] else { return nil }
    let parts = value.split(separator: ":").compactMap { Int($0) }
    guard parts.count == 2 else { throw VAEError("VAE_FAIL_AT_STEP=\(value): expected RANK:STEP") }
    return (parts[0], parts[1])
}

/// `--resume` alone arrives as `Train.newestCheckpoint`: the newest valid one, skipping (with a warning) any that fail.
func loadCheckpoint(_ resume: String, runDirectory: String) throws -> LoadedCheckpoint {
    guard resume == Train.newestCheckpoint else { return try Checkpoint.read(resume) }
    return try Checkpoint.newestValid(runDirectory: runDirectory) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
}

extension Train {
    static let newestCheckpoint = "<newest>"
}

/// SIGTERM (Slurm's preemption and time limit) and SIGINT set a flag the trainer polls at each step.
enum StopSignals {
    nonisolated(unsafe) private static var received: Int32 = 0

    static func install() -> () -> Int32 {
        for signal in [SIGTERM, SIGINT] {
            _ = Glibc.signal(signal) { StopSignals.received = $0 }
        }
        return { StopSignals.received }
    }
}
