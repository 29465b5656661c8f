// The one way the tests run a child process (`vae`, `mpirun`, a launch script, a system tool): from the
// package root, under a time limit, with stdout and stderr read at the same time and kept.

import Foundation
import Synchronization

/// What a finished child process left behind.
public struct ProcessOutcome: Sendable {
    /// The exit status; 137 when the time limit killed it.
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// Wall-clock seconds from start to exit.
    public let seconds: Double
}

/// A child process started in the background; `finish()` waits for it and collects its output.
public struct RunningProcess: Sendable {
    let process: Process
    let stdout = Pipe()
    let stderr = Pipe()
    let start = Date()

    /// Reads stdout and stderr to their ends concurrently, so a child that fills one pipe while the other is
    /// being read never blocks, and waits for the exit. A pipe still open 10 s after the child ended (a daemon
    /// it started holds it) is read no further, so that no test waits for ever.
    public func finish() -> ProcessOutcome {
        let read = Mutex<[Data]>([Data(), Data()]), drained = DispatchGroup()
        for (index, pipe) in [stdout, stderr].enumerated() {
            DispatchQueue.global().async(group: drained) {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                read.withLock { $0[index] = data }
            }
        }
        process.waitUntilExit()
        _ = drained.wait(timeout: .now() + 10)
        let (output, errors) = read.withLock { ($0[0], $0[1]) }
        return ProcessOutcome(status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                              stderr: String(decoding: errors, as: UTF8.self), seconds: Date().timeIntervalSince(start))
    }
}

/// How much longer than written every time limit of the tests is: VAE_TEST_TIME_SCALE, for builds that run
/// slower (launch/testing/sanitize.sh sets it); 1 otherwise.
public let testTimeScale = ProcessInfo.processInfo.environment["VAE_TEST_TIME_SCALE"].flatMap(Double.init) ?? 1

/// Starts `command` (an executable's path or a name on PATH, then its arguments) in the package root, with
/// this process's environment plus `environment`. It is killed after `limitSeconds` (times `testTimeScale`),
/// so a hung child fails its test instead of stalling the suite. A limit guards against a hang and times
/// nothing: each one in the tests is at least five times what its run takes on Zen 4 with the other suites
/// running beside it, so that a CPU five times slower passes too.
public func startProcess(_ command: [String], environment: [String: String] = [:], limitSeconds: Int = 180) throws -> RunningProcess {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
    process.arguments = ["--signal=KILL", "\(Int(Double(limitSeconds) * testTimeScale))"] + command
    process.currentDirectoryURL = packageRoot
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let running = RunningProcess(process: process)
    process.standardOutput = running.stdout
    process.standardError = running.stderr
    try process.run()
    return running
}

/// Runs `command` to its end; see `startProcess`.
public func runProcess(_ command: [String], environment: [String: String] = [:], limitSeconds: Int = 180) throws -> ProcessOutcome {
    try startProcess(command, environment: environment, limitSeconds: limitSeconds).finish()
}

/// Runs the built `vae` with `arguments`, as a user at the package root would.
public func runVAE(_ arguments: [String]) throws -> ProcessOutcome {
    try runProcess([vaeBinary] + arguments)
}
