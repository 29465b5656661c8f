// launch/slurm.sbatch on a real Slurm cluster (launch/testing/slurm-local-cluster.sh: two one-core nodes on this
// machine): a job trains the same bytes as `mpirun -np 2`, by srun with PMIx and by mpirun inside the
// allocation; a failing rank fails the job, which sacct records; and a job stopped mid-run by
// `scontrol requeue`, by SIGTERM to its batch script, or by its time limit runs again and ends with the
// same model.safetensors, byte for byte, as a run never stopped.

import Foundation
import TestSupport
import Testing

@Suite(.serialized, .enabled(if: SlurmCluster.usable, "needs root and Slurm's packages: launch/install-packages.sh --test"))
struct SlurmTests {
    /// `epochs` epochs of 100 steps on 3,200 real images, a checkpoint every 20 steps, samples at the end.
    func config(epochs: Int) throws -> String {
        let path = temporaryDirectory().appendingPathComponent("config.yaml").path
        let yaml = "data:\n  limit: 3200\ntraining:\n  epochs: \(epochs)\n  log_every_steps: 20\ncheckpoint:\n  every_steps: 20\n  keep: 50\n"
            + "samples:\n  every_epochs: 0\n"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func finalWeights(_ out: String, epochs: Int) -> Data? {
        FileManager.default.contents(atPath: out + String(format: "/checkpoints/step-%08d/model.safetensors", 100 * epochs))
    }

    /// The weights `mpirun -np 2` ends with on the same config.
    func mpirunWeights(_ config: String, epochs: Int) throws -> Data? {
        let out = temporaryDirectory().path
        let outcome = try mpirunTrain(ranks: 2, ["--out", out], config: config, limitSeconds: 300)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return finalWeights(out, epochs: epochs)
    }

    func jobLog(_ out: String) -> String { (try? String(contentsOfFile: out + "/job.out", encoding: .utf8)) ?? "" }

    @Test(arguments: ["srun", "mpirun"])
    func aJobTrainsWhatMpirunTrains(launcher: String) throws {
        let config = try config(epochs: 1), out = temporaryDirectory().path
        let job = try SlurmCluster.submit(config: config, out: out, environment: ["VAE_LAUNCHER": launcher, "VAE_MPIRUN_BIND": "none"])
        defer { SlurmCluster.cancel(job) }
        #expect(try SlurmCluster.waitUntilDone(job) == "COMPLETED", "\(jobLog(out))")
        #expect(jobLog(out).contains("over 2 ranks") && jobLog(out).contains("exit status 0"), "\(jobLog(out))")
        #expect(try SlurmCluster.accounting(of: job) == ("COMPLETED", "0:0"))
        let weights = finalWeights(out, epochs: 1), straight = try mpirunWeights(config, epochs: 1)
        #expect(weights != nil && weights == straight)
    }

    @Test func aFailingRankFailsTheJob() throws {
        let config = try config(epochs: 1), out = temporaryDirectory().path
        let job = try SlurmCluster.submit(config: config, out: out, environment: ["VAE_BINARY": faultInjectionBinary, "VAE_FAIL_AT_ALLREDUCE": "1:5"])
        defer { SlurmCluster.cancel(job) }
        #expect(try SlurmCluster.waitUntilDone(job) == "FAILED", "\(jobLog(out))")
        #expect(jobLog(out).contains("error: rank 1 of 2: step 1: injected failure in allreduce 5"), "\(jobLog(out))")
        let (state, exitCode) = try SlurmCluster.accounting(of: job)
        #expect(state == "FAILED" && exitCode != "0:0", "sacct: \(state) \(exitCode)")
    }

    /// A rank that dies without a word (SIGKILL here; a segfault alike) ends the whole step at once, well
    /// before the other rank's 300 s watchdog would, and fails the job.
    @Test func aKilledRankEndsTheJobAtOnce() throws {
        let config = try config(epochs: 1), out = temporaryDirectory().path
        let job = try SlurmCluster.submit(config: config, out: out, environment: ["VAE_BINARY": faultInjectionBinary, "VAE_SIGNAL_AT_STEP": "1:5:KILL"])
        defer { SlurmCluster.cancel(job) }
        let started = Date()
        #expect(try SlurmCluster.waitUntilDone(job, limitSeconds: 120) == "FAILED", "\(jobLog(out))")
        // A few seconds here: the bound is the other rank's 300 s watchdog, which must not be what ends it.
        #expect(Date().timeIntervalSince(started) < 100 * testTimeScale, "\(jobLog(out))")
        #expect(jobLog(out).contains("task 1: Killed"), "\(jobLog(out))")
    }

    /// Submits a 3-epoch job, stops it with `stop` once its step-60 checkpoint exists, lets Slurm run it
    /// again, and compares its final weights with mpirun's.
    func stoppedJobResumesExactly(options: [String] = [], stop: (Int) throws -> Void) throws {
        let epochs = 3, config = try config(epochs: epochs), out = temporaryDirectory().path
        let job = try SlurmCluster.submit(config: config, out: out, options: options)
        defer { SlurmCluster.cancel(job) }
        try waitFor(out + "/checkpoints/step-00000060", limit: 120)
        try stop(job)
        #expect(try SlurmCluster.waitUntilDone(job) == "COMPLETED", "\(jobLog(out))")
        let log = jobLog(out)
        #expect(log.contains("restart 1") && log.contains("resuming from"), "\(log)")
        let restarts = try SlurmCluster.fields(of: job)["Restarts"].flatMap { Int($0) } ?? 0
        #expect(restarts >= 1)
        let weights = finalWeights(out, epochs: epochs), straight = try mpirunWeights(config, epochs: epochs)
        #expect(weights != nil && weights == straight)
    }

    @Test func scontrolRequeueMidEpoch() throws {
        try stoppedJobResumesExactly { job in _ = try SlurmCluster.run(["scontrol", "requeue", "\(job)"]) }
    }

    @Test func sigtermToTheBatchScriptMidEpoch() throws {
        try stoppedJobResumesExactly { job in _ = try SlurmCluster.run(["scancel", "--signal=TERM", "--batch", "\(job)"]) }
    }

    /// `--time=1`: Slurm's warning (SIGTERM to the ranks 5 s, or up to 30 s more, before the minute is up)
    /// stops the job, which puts itself back in the queue. Each step sleeps 0.2 s (fault injection, which
    /// changes no bits), so 4 epochs of 100 steps outlast the minute on any CPU.
    @Test func aTimeLimitBeforeTheLastEpoch() throws {
        let epochs = 4, config = try config(epochs: epochs), out = temporaryDirectory().path
        let job = try SlurmCluster.submit(config: config, out: out, options: ["--time=1", "--signal=TERM@5"],
                                          environment: ["VAE_BINARY": faultInjectionBinary, "VAE_SLOW_STEPS": "0.2"])
        defer { SlurmCluster.cancel(job) }
        #expect(try SlurmCluster.waitUntilDone(job, limitSeconds: 600) == "COMPLETED", "\(jobLog(out))")
        #expect(jobLog(out).contains("restart 1") && jobLog(out).contains("stopped by signal 15"), "\(jobLog(out))")
        let weights = finalWeights(out, epochs: epochs), straight = try mpirunWeights(config, epochs: epochs)
        #expect(weights != nil && weights == straight)
    }
}
