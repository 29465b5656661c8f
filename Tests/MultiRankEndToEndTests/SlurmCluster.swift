// The tests' Slurm cluster: launch/testing/slurm-local-cluster.sh, started on first use in a state directory of the
// tests' own and stopped when the test process exits, and the few Slurm commands the tests use on it.

import Foundation
import TestSupport

enum SlurmCluster {
    static let script = packageRoot.appendingPathComponent("launch/testing/slurm-local-cluster.sh").path
    /// A state directory and ports of the tests' own, so a cluster a person started by hand is left alone.
    static let settings = ["VAE_SLURM_DIR": "/tmp/vae-slurm-tests", "VAE_SLURM_PORT": "17817"]

    /// The cluster needs root (it starts daemons) and Slurm's packages (launch/install-packages.sh --test).
    static var usable: Bool { geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/slurmctld") }

    struct StartError: Error, CustomStringConvertible { let description: String }

    /// What Slurm's commands need to find the cluster (SLURM_CONF), once it is up; started on first use.
    private static let started: Result<[String: String], StartError> = {
        let log = settings["VAE_SLURM_DIR"]! + ".log"
        guard runScript("start", log: log) == 0 else {
            return .failure(StartError(description: "\(script) start failed: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")"))
        }
        atexit { _ = SlurmCluster.runScript("stop", log: SlurmCluster.settings["VAE_SLURM_DIR"]! + ".log") }
        _ = runScript("env", log: log)
        let exports = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return .success(settings.merging(exports.split(separator: "\n").compactMap { line -> (String, String)? in
            guard line.hasPrefix("export "), let equals = line.firstIndex(of: "=") else { return nil }
            let value = line[line.index(after: equals)...].split(separator: " ").first.map(String.init) ?? ""
            return (String(line.dropFirst("export ".count)[..<equals]), value)
        }) { $1 })
    }()

    /// Runs `launch/testing/slurm-local-cluster.sh VERB` with its output in `log`, by posix_spawn and waitpid rather
    /// than Foundation's Process, whose wait for this script (which leaves daemons behind) never returned.
    /// Every descriptor but the standard three is closed first: the daemons would otherwise keep the pipes of
    /// whatever other test was starting a process at that moment, and that test would wait for their end for ever.
    private static func runScript(_ verb: String, log: String) -> Int32 {
        let closeInherited = "for fd in /proc/self/fd/*; do fd=${fd##*/}; ((fd > 2)) && eval \"exec $fd>&-\"; done 2>/dev/null; "
        let arguments = ["/bin/bash", "-c", closeInherited + "exec \"$0\" \"$1\" >\"$2\" 2>&1", script, verb, log]
        let environment = ProcessInfo.processInfo.environment.merging(settings) { $1 }.map { "\($0)=\($1)" }
        let argv = arguments.map { strdup($0) } + [nil], envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0, status: Int32 = 0
        guard posix_spawn(&pid, "/bin/bash", nil, nil, argv, envp) == 0 else { return -1 }
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xFF
    }

    /// Runs a Slurm command (sbatch, scontrol, sacct…) against the cluster.
    static func run(_ command: [String], environment extra: [String: String] = [:]) throws -> ProcessOutcome {
        try runJob(command, environment: started.get().merging(extra) { $1 })
    }

    /// `sbatch OPTIONS launch/slurm.sbatch CONFIG OUT` on 2 nodes of 1 task, its output in OUT/job.out;
    /// returns the job's id.
    static func submit(config: String, out: String, options: [String] = [], environment extra: [String: String] = [:]) throws -> Int {
        let submitted = try run(["sbatch", "--parsable", "--nodes=2", "--ntasks-per-node=1", "--output=\(out)/job.out"] + options
                                + ["launch/slurm.sbatch", config, out], environment: ["VAE_BINARY": vaeBinary].merging(extra) { $1 })
        guard submitted.status == 0, let job = Int(submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "sbatch failed: \(submitted.stderr)"])
        }
        return job
    }

    /// Cancels the job if it still runs, so that a failed test leaves no job holding the nodes.
    static func cancel(_ job: Int) { _ = try? run(["scancel", "\(job)"]) }

    /// The job's fields from `scontrol show job` (JobState, Reason, Restarts, ExitCode, …).
    static func fields(of job: Int) throws -> [String: String] {
        let shown = try run(["scontrol", "show", "job", "--oneliner", "\(job)"]).stdout
        return Dictionary(shown.split(whereSeparator: \.isWhitespace).compactMap { field in
            field.firstIndex(of: "=").map { (String(field[..<$0]), String(field[field.index(after: $0)...])) }
        }) { first, _ in first }
    }

    /// Waits until the job has ended for good, releasing each requeued run at once (Slurm holds a requeued
    /// job for two minutes, to keep a failing job from spinning); returns its final JobState. The limit is
    /// times `testTimeScale`.
    static func waitUntilDone(_ job: Int, limitSeconds: Double = 300) throws -> String {
        let deadline = Date().addingTimeInterval(limitSeconds * testTimeScale)
        while Date() < deadline {
            let job = try fields(of: job)
            let state = job["JobState"] ?? "UNKNOWN"
            if ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"].contains(state) { return state }
            if state == "PENDING" && job["Reason"] == "BeginTime" {
                Thread.sleep(forTimeInterval: 5)  // released at once, a requeued job can die with "Job credential revoked"
                _ = try run(["scontrol", "update", "JobId=\(job["JobId"] ?? "")", "StartTime=now"])
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        let last = try fields(of: job)
        cancel(job)
        let output = (last["StdOut"].flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "").suffix(2000)
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey:
            "job \(job) still \(last["JobState"] ?? "?") (\(last["Reason"] ?? "?")) after \(limitSeconds * testTimeScale) s; cancelled. Its output:\n\(output)"])
    }

    /// The job's state and exit code as Slurm's accounting (sacct) recorded them, once it has them.
    static func accounting(of job: Int) throws -> (state: String, exitCode: String) {
        for _ in 0..<50 {
            let line = try run(["sacct", "--noheader", "--allocations", "--parsable2", "--format=State,ExitCode", "--jobs=\(job)"]).stdout
            let fields = line.split(separator: "\n").first?.split(separator: "|").map(String.init) ?? []
            if fields.count == 2 && !["PENDING", "RUNNING", "REQUEUED"].contains(fields[0]) { return (fields[0], fields[1]) }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return ("not recorded", "")
    }
}
