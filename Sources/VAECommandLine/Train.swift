// `vae train`: load a config, apply overrides, join the ranks (when started by mpirun), train.

import ArgumentParser
import Foundation
import Synchronization
import VAECheckpoint
import VAECommunication
import VAEConfig
import VAEMath
import VAEReport
import VAESupport
import VAETraining

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a VAE from a YAML config, on one process or as every rank of `mpirun -np N vae train …`.")

    @OptionGroup var settings: ConfigOptions

    @Option(help: "The run's output directory (overrides output.dir).")
    var out: String?

    @Option(defaultAsFlag: ResumePoint.newest, parsing: .next,
            help: ArgumentHelp("Resume: alone, from the newest valid checkpoint any rank holds (under the output directory, or a replica's), "
                               + "or from the start when there is none yet; with PATH, from that checkpoint directory.", valueName: "PATH"))
    var resume: ResumePoint? = nil

    @Option(help: ArgumentHelp("Write every rank's timeline to FILE as Chrome trace events (Perfetto, chrome://tracing).", valueName: "FILE"))
    var trace: String?

    @Option(help: "With --trace: the steps traced layer by layer; checkpoints and pictures are traced throughout.")
    var traceSteps = 100

    func validate() throws {
        guard traceSteps >= 0 else { throw ValidationError("--trace-steps \(traceSteps): must be at least 0") }
    }

    func run() throws {
        let communicator = try joinRanks()
        // Under mpirun a rank's stdout is a pseudo-terminal whatever mpirun writes to, so only a process started
        // directly can tell a terminal; ranks print plain lines.
        let live = !MPICommunicator.launchedByMPI && isatty(STDOUT_FILENO) != 0 ? LiveProgress { FileHandle.standardOutput.write(Data($0.utf8)) } : nil
        try reportingErrors(communicator) {
            defer { live?.clear() }  // an error line starts clean
            var config = try settings.load(warnings: communicator.rank == 0)
            if let out { config.output.directory = out }
            setMathThreads(localRanks: communicator.localSize, convolutions: config.training.convBackend)
            let trainer = try Trainer(config: config, communicator: communicator)
            trainer.stopSignal = StopSignals.install()
            trainer.liveProgress = live
            trainer.pictures = SampleWriter.drawing(config: config, stepsPerEpoch: trainer.sampler.stepsPerEpoch)
            VAECommand.customization.trainer(trainer)
            let checkpoint = try resume?.load(config: config, rank: communicator.rank)
            if trace != nil { try trainer.startTrace(detailedSteps: traceSteps) }
            let outcome = try trainer.run(resumingFrom: checkpoint, resuming: resume != nil, log: { live?.clear(); printLine($0) })
            if let trace {
                try trainer.writeTrace(to: trace)
                if communicator.rank == 0 { printLine("trace \(trace)") }
            }
            if case .stopped(let signal) = outcome { throw ExitCode(128 + signal) }  // the shell's convention for "ended by signal N"
        }
    }
}

/// Where `--resume` starts from.
enum ResumePoint: ExpressibleByArgument, CustomStringConvertible {
    /// The newest checkpoint that verifies, of those this rank holds under the output directory and its replica
    /// directory; skipped ones are warned about. The trainer takes the newest any rank holds.
    case newest
    case checkpoint(path: String)

    init?(argument: String) { self = .checkpoint(path: argument) }

    var description: String {
        switch self {
        case .newest: "the newest valid checkpoint"
        case .checkpoint(let path): path
        }
    }

    /// This rank's checkpoint to resume from: PATH on rank 0 (nil elsewhere), or its newest valid one, nil when
    /// it holds none at all (a directory of only corrupt ones is an error).
    func load(config: TrainingConfig, rank: Int) throws -> LoadedCheckpoint? {
        let warn = { (line: String) in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        switch self {
        case .checkpoint(let path): return rank == 0 ? try Checkpoint.read(path) : nil
        case .newest:
            let directories = [config.output.directory] + (config.checkpoint.replicaDirectory.isEmpty ? [] : [config.checkpoint.replicaDirectory])
            let held = directories.filter { !Checkpoint.all(in: Checkpoint.directory(of: $0)).isEmpty }
            return try held.map { try Checkpoint.newestValid(runDirectory: $0, warn: warn) }.max { $0.state.step < $1.state.step }
        }
    }
}

/// The config file and its overrides, as `train` and `bench` take them; VAE_CONV_BACKEND overrides
/// training.conv_backend for this run.
struct ConfigOptions: ParsableArguments {
    @Option(help: "The YAML config file.")
    var config = "configs/fashion-mnist.yaml"

    @Option(name: .customLong("set"), help: "Override a config value: key.path=value (repeatable).")
    var overrides: [String] = []

    /// The config, with a warning on stderr for each old key it still reads (only rank 0's, under mpirun).
    func load(warnings: Bool = true) throws -> TrainingConfig {
        let warn = { (line: String) in if warnings { FileHandle.standardError.write(Data((line + "\n").utf8)) } }
        var settings = try TrainingConfig.load(path: config, overrides: overrides, warn: warn)
        settings.training.convBackend = try convolutionBackend(default: settings.training.convBackend)!
        return settings
    }
}

/// VAE_CONV_BACKEND when set (it must name a backend), else `fallback`.
func convolutionBackend(default fallback: ConvolutionBackend?) throws -> ConvolutionBackend? {
    let name = "VAE_CONV_BACKEND"
    guard let value = ProcessInfo.processInfo.environment[name] else { return fallback }
    guard let backend = ConvolutionBackend(rawValue: value) else {
        throw VAEError("\(name)=\(value): expected one of \(ConvolutionBackend.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return backend
}


/// MPI when started by an MPI launcher, otherwise the single-process world.
func joinRanks() throws -> Communicator {
    let wrap = VAECommand.customization.communicator
    guard MPICommunicator.launchedByMPI else { return wrap(SingleProcessCommunicator()) }
    do { return wrap(try MPICommunicator()) } catch let error as CommunicationError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(2)
    }
}

/// Each rank gets cores ÷ ranks-on-this-node math threads (at least 1), unless the user chose with
/// OPENBLAS_NUM_THREADS or OMP_NUM_THREADS (either sets both), or Slurm gave each task --cpus-per-task CPUs
/// (SLURM_CPUS_PER_TASK); `Kernels.setThreadCount` says which library uses them. Returns the count.
@discardableResult
func setMathThreads(localRanks: Int, convolutions: ConvolutionBackend) -> Int {
    let environment = ProcessInfo.processInfo.environment
    let chosen = ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK"].lazy.compactMap { environment[$0].flatMap { Int($0) } }.first
    let threads = max(1, chosen ?? ProcessInfo.processInfo.activeProcessorCount / max(1, localRanks))
    Kernels.setThreadCount(threads, convolutions: convolutions)
    return threads
}

/// The last SIGTERM or SIGINT received; an atomic, so the handler may set it while the loop reads it.
private let receivedSignal = Atomic<Int32>(0)

/// SIGTERM (Slurm's preemption and time limit) and SIGINT set a flag the trainer polls at each step.
enum StopSignals {
    static func install() -> () -> Int32 {
        for signal in [SIGTERM, SIGINT] {
            _ = Glibc.signal(signal) { receivedSignal.store($0, ordering: .relaxed) }
        }
        return { receivedSignal.load(ordering: .relaxed) }
    }
}
