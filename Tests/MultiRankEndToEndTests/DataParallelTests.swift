// Data parallelism under a real `mpirun`: the same config and seed give the same trajectory at 1, 2 and 4
// ranks (shared memory and TCP), bit for bit, since micro-batch gradients and ranks are summed as one fixed
// binary tree; and failures end the whole job quickly with the rank named.

import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct DataParallelTests {
    /// 50 steps of the book's model on 1,600 real images, every step's global loss logged.
    let fiftySteps = ["--set", "data.limit=1600", "--set", "training.epochs=1", "--set", "training.log_every_steps=1"]

    func trajectory(ranks: Int, mpiOptions: [String] = [], _ settings: [String] = []) throws -> [Double] {
        let out = temporaryDirectory().path
        let outcome = try mpirunTrain(ranks: ranks, mpiOptions: mpiOptions, fiftySteps + settings + ["--out", out])
        #expect(outcome.status == 0, "\(ranks) ranks: \(outcome.stderr)")
        #expect(outcome.stdout.contains(ranks > 1 ? "over \(ranks) ranks" : "per epoch"))
        let losses = try intervalLosses(in: out)
        #expect(losses.count == 50)
        return losses
    }

    @Test func sameTrajectoryAtOneTwoAndFourRanks() throws {
        let one = try trajectory(ranks: 1)
        for ranks in [2, 4] {
            let many = try trajectory(ranks: ranks)
            #expect(one == many, "\(ranks) ranks differ by up to \(maxRelativeDifference(one, many)) (relative)")
        }
        #expect(one.last! < 0.6 * one.first!, "the loss falls over 50 steps: \(one.first!) → \(one.last!)")
    }

    @Test func overlappedBucketsAndOneFusedAllreduceGiveTheSameTrajectory() throws {
        let fused = try trajectory(ranks: 2, ["--set", "allreduce.overlap=false"])
        // 1 KiB buckets: one per layer, a dozen sums in flight at once, two recursive-doubling rounds each.
        let perLayer = try trajectory(ranks: 4, ["--set", "allreduce.bucket_kb=1"])
        #expect(fused == perLayer, "differ by up to \(maxRelativeDifference(fused, perLayer)) (relative)")
        #expect(fused == (try trajectory(ranks: 1)))
    }

    @Test func batchNormAndDropoutRunsEndWithTheSameBytesAtOneAndTwoRanks() throws {
        // BatchNorm's running statistics travel in the step's allreduce, so they too are the same at any rank count.
        let settings = ["--set", "data.limit=640", "--set", "training.epochs=1", "--set", "model.use_batch_norm=true",
                        "--set", "model.use_dropout=true", "--set", "samples.every_epochs=0"]
        var weights: [Data] = []
        for ranks in [1, 2] {
            let out = temporaryDirectory().path
            let outcome = try mpirunTrain(ranks: ranks, settings + ["--out", out])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            weights.append(try #require(FileManager.default.contents(atPath: out + "/checkpoints/step-00000020/model.safetensors")))
        }
        #expect(weights[0] == weights[1])
    }

    @Test func sameTrajectoryOverTCP() throws {
        let one = try trajectory(ranks: 1)
        let tcp = try trajectory(ranks: 2, mpiOptions: ["--mca", "btl", "tcp,self"])
        #expect(one == tcp, "TCP differs by up to \(maxRelativeDifference(one, tcp)) (relative)")
    }

    @Test func aFailingRankEndsTheJobNamingIt() throws {
        let outcome = try mpirunTrain(ranks: 2, fiftySteps + ["--out", temporaryDirectory().path],
                                      environment: ["VAE_FAIL_AT_ALLREDUCE": "1:5"], binary: faultInjectionBinary)
        #expect(outcome.status != 0)
        // Ended in step 1, about 1 s here (Zen 4): the bound says no rank waited for a watchdog (300 s).
        #expect(outcome.seconds < 30, "took \(outcome.seconds) s")
        #expect(outcome.stderr.contains("error: rank 1 of 2: step 1: injected failure in allreduce 5"), "\(outcome.stderr)")
    }

    @Test func aKilledRankEndsTheJob() throws {
        let out = temporaryDirectory().path
        let job = try startJob(["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", vaeBinary, "train",
                                "--config", defaultConfig, "--out", out, "--set", "data.limit=20000", "--set", "training.log_every_steps=1"])
        try waitFor(out + "/metrics.jsonl", limit: 60)
        let ranks = rankProcesses(writingTo: out)
        #expect(ranks.count == 2)
        kill(try #require(ranks.last), SIGKILL)
        let outcome = job.finish()
        // Seconds here (Zen 4): the bound says no rank waited for a watchdog (300 s).
        #expect(outcome.status != 0 && outcome.seconds < 60, "status \(outcome.status) after \(outcome.seconds) s")
        #expect(outcome.stderr.contains("exited on signal 9"), "\(outcome.stderr)")
    }

    @Test func aBatchThatDoesNotDivideIsAnError() throws {
        let outcome = try mpirunTrain(ranks: 4, fiftySteps + ["--set", "training.batch_size=30", "--set", "training.micro_batch=6", "--out", temporaryDirectory().path])
        #expect(outcome.status != 0 && outcome.seconds < 30)  // ends before training; bounded as above
        #expect(outcome.stderr.contains("training.batch_size: the global batch 30 does not divide over 4 ranks"), "\(outcome.stderr)")
    }

    @Test func ranksWithDifferentConfigsAreNamed() throws {
        let out = temporaryDirectory().path
        let rank = [vaeBinary, "train", "--config", defaultConfig, "--out", out] + fiftySteps
        let outcome = try runJob(["mpirun", "--oversubscribe", "-np", "1"] + rank + [":", "-np", "1"] + rank + ["--set", "training.seed=7"])
        #expect(outcome.status != 0 && outcome.seconds < 30)  // ends before training; bounded as above
        #expect(outcome.stderr.contains("differs between rank 0 and rank 1"), "\(outcome.stderr)")
    }
}

/// Two "hosts": each rank in its own network namespace, joined by veth and a bridge, TCP only
/// (launch/testing/namespace-hosts.sh creates and always removes them; it needs root).
@Suite(.serialized) struct TwoHostTests {
    @Test(needsRoot("launch/testing/namespace-hosts.sh creates network namespaces, veth links and a bridge with ip"))
    func twoHostsOverTCPTrainTheSameTrajectoryAsOneRank() throws {
        let single = temporaryDirectory().path, hosts = temporaryDirectory().path
        let steps = ["--set", "data.limit=1600", "--set", "training.epochs=1", "--set", "training.log_every_steps=1"]
        #expect(try mpirunTrain(ranks: 1, steps + ["--out", single]).status == 0)
        let state = temporaryDirectory().appendingPathComponent("hosts").path
        let outcome = try runJob([packageRoot.appendingPathComponent("launch/testing/namespace-hosts.sh").path, "-x", "OPENBLAS_NUM_THREADS", "--",
                                  vaeBinary, "train", "--config", defaultConfig, "--out", hosts] + steps, environment: ["HOSTS_STATE": state])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("over 2 ranks"))
        #expect(try intervalLosses(in: hosts) == intervalLosses(in: single))
        // This job's namespaces only: other suites' hosts may be up at the same time.
        let namespaces = try String(contentsOfFile: state, encoding: .utf8).split(separator: "\n").map { $0.split(separator: " ")[1] }
        let leftovers = try runJob(["ip", "netns", "list"]).stdout
        #expect(namespaces.count == 2 && namespaces.allSatisfy { !leftovers.contains($0) }, "namespaces left behind: \(leftovers)")
    }
}
