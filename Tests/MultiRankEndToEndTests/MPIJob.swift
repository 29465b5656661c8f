// Runs `vae` under a real `mpirun` and reads what rank 0 wrote: the harness of the multi-rank tests.

import Foundation
import TestSupport

/// What every job here runs with: Open MPI allowed to run as root, and one GEMM thread per rank, since
/// bit-exactness across rank counts needs the same GEMM threads.
let mpiEnvironment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OPENBLAS_NUM_THREADS": "1"]

/// Starts `command` in the background with `mpiEnvironment` plus `environment`, killed after `limitSeconds`.
func startJob(_ command: [String], environment: [String: String] = [:], limitSeconds: Int = 180) throws -> RunningProcess {
    try startProcess(command, environment: mpiEnvironment.merging(environment) { $1 }, limitSeconds: limitSeconds)
}

func runJob(_ command: [String], environment: [String: String] = [:], limitSeconds: Int = 180) throws -> ProcessOutcome {
    try startJob(command, environment: environment, limitSeconds: limitSeconds).finish()
}

/// Polls until `path` exists, for `limit` seconds times `testTimeScale`.
func waitFor(_ path: String, limit: Double) throws {
    let deadline = Date().addingTimeInterval(limit * testTimeScale)
    while !FileManager.default.fileExists(atPath: path) {
        guard Date() < deadline else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
        Thread.sleep(forTimeInterval: 0.1)
    }
}

/// The test-only `vae` whose communicator fails on cue (Tests/FaultInjection), built beside `vae`.
let faultInjectionBinary = URL(fileURLWithPath: vaeBinary).deletingLastPathComponent().appendingPathComponent("vae-fault-injection").path

/// `mpirun -np N [options] vae train --config … [arguments]`.
func mpirunTrain(ranks: Int, mpiOptions: [String] = [], _ arguments: [String], environment: [String: String] = [:],
                 binary: String = vaeBinary, config: String = defaultConfig, limitSeconds: Int = 180) throws -> ProcessOutcome {
    try runJob(["mpirun", "-np", "\(ranks)", "--oversubscribe", "--bind-to", "none"] + mpiOptions
               + [binary, "train", "--config", config] + arguments, environment: environment, limitSeconds: limitSeconds)
}

/// The per-interval losses rank 0 wrote to DIR/metrics.jsonl.
func intervalLosses(in directory: String) throws -> [Double] { try losses(kind: "interval", in: directory) }

/// The per-epoch mean losses rank 0 wrote to DIR/metrics.jsonl.
func epochLosses(in directory: String) throws -> [Double] { try losses(kind: "epoch", in: directory) }

private func losses(kind: String, in directory: String) throws -> [Double] {
    try metricsRecords(in: directory).compactMap { $0["kind"] as? String == kind ? $0["loss"] as? Double : nil }
}

/// Every record rank 0 wrote to DIR/metrics.jsonl, as JSON objects.
func metricsRecords(in directory: String) throws -> [[String: Any]] {
    let text = try String(contentsOfFile: directory + "/metrics.jsonl", encoding: .utf8)
    return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
}

func maxRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) / max(abs($0), abs($1), 1e-12) }.max() ?? 0
}

/// The PIDs of the `vae` or `vae-fault-injection` processes (the ranks, not mpirun or timeout) whose arguments
/// include `--out DIR`.
func rankProcesses(writingTo directory: String) -> [Int32] {
    let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
    return pids.sorted().filter { pid in
        guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let arguments = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return [vaeBinary, faultInjectionBinary].contains(arguments.first ?? "") && arguments.contains(directory)
    }
}
