// Runs `vae` under a real `mpirun` and reads what rank 0 wrote: the harness of the multi-rank tests.

import Foundation

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let defaultConfig = packageRoot.appendingPathComponent("configs/fashion-mnist.yaml").path

/// The `vae` binary built beside the test bundle (VAE_BINARY overrides).
let vaeBinary: String = ProcessInfo.processInfo.environment["VAE_BINARY"]
    ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vae").path

struct JobOutcome {
    let status: Int32
    let stdout: String
    let stderr: String
    let seconds: Double
}

/// A job started in the background; `finish()` waits for it and collects its output.
struct RunningJob {
    let process: Process
    let stdout: Pipe
    let stderr: Pipe
    let start = Date()

    func finish() -> JobOutcome {
        // Drain stderr concurrently: a chatty job must not block on a full pipe.
        nonisolated(unsafe) var errors = Data()
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { errors = stderr.fileHandleForReading.readDataToEndOfFile(); drained.signal() }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        return JobOutcome(status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                          stderr: String(decoding: errors, as: UTF8.self), seconds: Date().timeIntervalSince(start))
    }
}

/// Starts `command` with a hard time limit, so a hung job fails the test instead of stalling the suite.
func startJob(_ command: [String], environment extra: [String: String] = [:], limit: Int = 180) throws -> RunningJob {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
    process.arguments = ["--signal=KILL", "\(limit)"] + command
    process.currentDirectoryURL = packageRoot
    var environment = ProcessInfo.processInfo.environment
    environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    environment["OPENBLAS_NUM_THREADS"] = "1"  // bit-exactness across rank counts needs the same GEMM threads
    environment.merge(extra) { $1 }
    process.environment = environment
    let job = RunningJob(process: process, stdout: Pipe(), stderr: Pipe())
    process.standardOutput = job.stdout
    process.standardError = job.stderr
    try process.run()
    return job
}

func runJob(_ command: [String], environment: [String: String] = [:], limit: Int = 180) throws -> JobOutcome {
    try startJob(command, environment: environment, limit: limit).finish()
}

/// Polls until `path` exists.
func waitFor(_ path: String, limit: Double) throws {
    let deadline = Date().addingTimeInterval(limit)
    while !FileManager.default.fileExists(atPath: path) {
        guard Date() < deadline else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
        Thread.sleep(forTimeInterval: 0.1)
    }
}

/// The test-only `vae` whose communicator fails on cue (Tests/FaultInjection), built beside `vae`.
let faultInjectionBinary = URL(fileURLWithPath: vaeBinary).deletingLastPathComponent().appendingPathComponent("vae-fault-injection").path

/// `mpirun -np N [options] vae train --config … [arguments]`.
func mpirunTrain(ranks: Int, mpiOptions: [String] = [], _ arguments: [String], environment: [String: String] = [:],
                 binary: String = vaeBinary) throws -> JobOutcome {
    try runJob(["mpirun", "-np", "\(ranks)", "--oversubscribe", "--bind-to", "none"] + mpiOptions
               + [binary, "train", "--config", defaultConfig] + arguments, environment: environment)
}

func temporaryDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("vae-mpi-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The per-interval losses rank 0 wrote to DIR/metrics.jsonl.
func intervalLosses(in directory: String) throws -> [Double] {
    let text = try String(contentsOfFile: directory + "/metrics.jsonl", encoding: .utf8)
    return try text.split(separator: "\n").compactMap { line in
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        return object["kind"] as? String == "interval" ? object["loss"] as? Double : nil
    }
}

func maxRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) / max(abs($0), abs($1), 1e-12) }.max() ?? 0
}

/// The PIDs of the `vae` processes (the ranks, not mpirun or timeout) whose arguments include `--out DIR`.
func rankProcesses(writingTo directory: String) -> [Int32] {
    let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
    return pids.sorted().filter { pid in
        guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let arguments = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.first == vaeBinary && arguments.contains(directory)
    }
}
