// launch/elastic.sh on namespace hosts (root): every process of a host killed and its link taken down mid-run,
// the supervisor drops the host and trains on (at the world size left, an exact one), and the run ends with the
// bytes of a run never interrupted; the same when the host lost is rank 0's and its disk goes with it (the
// checkpoint comes from the replica another node kept); a host that comes back is taken back, through a
// discovery script, while a second failure hits the restart; past --max-restarts it gives up, saying so.
// VAE_ELASTIC_POINTS random host losses (default 2: rank 0's host and the other) print how long training was
// down and how many steps it lost.

import Foundation
import TestSupport
import Testing
import VAECheckpoint
import VAEMath

/// 3 epochs of 40 steps on 1,280 images, a checkpoint every 5 steps, a record every step.
private let elasticRun = ["--set", "data.limit=1280", "--set", "training.epochs=3", "--set", "checkpoint.every_steps=5", "--set", "checkpoint.keep=100",
                          "--set", "samples.every_epochs=0", "--set", "training.log_every_steps=1", "--set", "watchdog.timeout_s=10"]
private let elasticSteps = 120

/// The run's final weights never interrupted, on one process of one math thread (as every rank here has):
/// what every elastic run must end with.
private let straightWeights: Data? = {
    let out = temporaryDirectory().path
    guard (try? runJob([vaeBinary, "train", "--config", defaultConfig, "--out", out] + elasticRun))?.status == 0 else { return nil }
    return finalWeights(out)
}()

private func finalWeights(_ out: String) -> Data? {
    FileManager.default.contents(atPath: out + "/checkpoints/" + Checkpoint.name(step: elasticSteps) + "/model.safetensors")
}

/// A namespace host: its network namespace, its link to the bridge, its address.
private struct Host {
    let namespace: String, link: String, ip: String

    /// Kills every process in it and takes its link down, as a node that dies.
    func lose() {
        _ = try? runProcess(["sh", "-c", "ip netns pids \(namespace) | xargs -r kill -9; ip link set \(link) down"])
    }

    func comeBack() { _ = try? runProcess(["ip", "link", "set", link, "up"]) }
}

/// An elastic job on `hosts` namespace hosts of 2 slots each, `arguments` to elastic.sh before `--`.
private struct ElasticJob {
    let out = temporaryDirectory().path
    let directory = temporaryDirectory().path
    let process: RunningProcess
    let hosts: [Host]

    init(hosts count: Int, _ arguments: String, settings: [String] = []) throws {
        let state = directory + "/hosts", script = directory + "/run.sh"
        let train = ([vaeBinary, "train", "--config", defaultConfig, "--out", out] + elasticRun + settings).map { "'\($0)'" }.joined(separator: " ")
        try """
            #!/bin/sh
            exec \(packageRoot.path)/launch/elastic.sh \(arguments) --agent "$HOSTS_AGENT" --mpirun-args "$HOSTS_MPIRUN_ARGS -x OPENBLAS_NUM_THREADS" -- \(train)
            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        process = try startJob([packageRoot.appendingPathComponent("launch/testing/namespace-hosts.sh").path, script],
                               environment: ["HOSTS": "\(count)", "HOSTS_SLOTS": "2", "HOSTS_SUPERVISE": "1", "HOSTS_STATE": state, "HOSTS_TIMEOUT": "280"],
                               limitSeconds: 300)
        try waitFor(state, limit: 30)
        hosts = try String(contentsOfFile: state, encoding: .utf8).split(separator: "\n").map { line in
            let fields = line.split(separator: " ").map(String.init)
            return Host(namespace: fields[1], link: fields[2], ip: fields[3])
        }
    }

    /// The metrics records so far (none before the file exists).
    var records: [[String: Any]] { (try? metricsRecords(in: out)) ?? [] }

    /// Waits until the run has recorded step `step` (after `restarts` restarts), for `limit` seconds.
    func waitForStep(_ step: Int, restarts: Int = 0, limit: Double = 120) throws {
        let deadline = Date().addingTimeInterval(limit * testTimeScale)
        while !(records.filter { $0["kind"] as? String == "restart" }.count >= restarts && records.last?["step"] as? Int ?? 0 >= step) {
            guard Date() < deadline else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no step \(step) after \(limit) s"]) }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// What the job left behind once it ended: its ranks' processes and its hosts' namespaces; empty, it must be.
    var leftBehind: [String] {
        let namespaces = (try? runProcess(["ip", "netns", "list"]).stdout) ?? ""
        return rankProcesses(writingTo: out).map { "process \($0)" } + hosts.map(\.namespace).filter { namespaces.contains($0) }
    }

    /// The restart records the supervisor appended.
    var restarts: [[String: Any]] { records.filter { $0["kind"] as? String == "restart" } }

    /// Waits until a step is recorded after the first restart: training again.
    func waitForTrainingAfterRestart(limit: Double = 120) throws {
        let deadline = Date().addingTimeInterval(limit * testTimeScale)
        while !(records.drop(while: { $0["kind"] as? String != "restart" }).contains { $0["kind"] as? String == "interval" }) {
            guard Date() < deadline else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no training after the restart"]) }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}

@Suite(.serialized, needsRoot("launch/testing/namespace-hosts.sh creates network namespaces"))
struct ElasticTests {
    @Test func losingAHostOrRankZerosHostWithItsDiskEndsWithTheStraightBytes() throws {
        #expect(straightWeights != nil)
        let environment = ProcessInfo.processInfo.environment
        let count = environment["VAE_ELASTIC_POINTS"].flatMap { Int($0) } ?? 2
        for point in 0..<count {
            // Point 0 loses rank 0's host, point 1 the other, then either at random; steps 10 to 69.
            let draw = { (field: UInt64) in CounterRandom.bits(seed: 11, purpose: .shuffle, UInt64(point), field, 0) }
            let lost = point < 2 ? point : Int(draw(0) % 2), step = 10 + Int(draw(1) % 60)
            let replica = temporaryDirectory().path
            let job = try ElasticJob(hosts: 2, "--hostfile \"$HOSTS_FILE\" --min-ranks 1 --max-restarts 2",
                                     settings: ["--set", "checkpoint.replicas=2", "--set", "checkpoint.replica_dir=\(replica)"])
            try job.waitForStep(step)
            let lostAt = Date()
            job.hosts[lost].lose()
            if lost == 0 {  // rank 0's disk goes with its node: what is left is the replica the other node kept
                try? FileManager.default.removeItem(atPath: job.out + "/checkpoints")
            }
            let killedAt = job.records.last?["step"] as? Int ?? step
            try job.waitForTrainingAfterRestart()
            let down = Date().timeIntervalSince(lostAt)
            let resumedFrom = job.restarts.first?["resumed_from"] as? Int
            let outcome = job.process.finish()
            #expect(outcome.status == 0, "point \(point): \(outcome.stderr)")
            #expect(outcome.stdout.contains("elastic.sh: restart 1: dropped \(job.hosts[lost].ip); 2 ranks on 1 hosts"), "\(outcome.stdout)")
            #expect(finalWeights(job.out) != nil && finalWeights(job.out) == straightWeights, "point \(point): the bytes differ")
            #expect(job.leftBehind.isEmpty, "\(job.leftBehind)")
            let resumed = outcome.stdout.firstMatch(of: /resuming from (\S+) .*at step (\d+)/).map { (String($0.1), Int($0.2)!) }
            if lost == 0 { #expect(resumed?.0.hasPrefix(replica) == true, "rank 0's disk was lost: \(String(describing: resumed))") }
            print(String(format: "host loss %d: host %d at step %d; training again %.1f s later, from step %d (%d steps lost)", point, lost, killedAt, down,
                         resumed?.1 ?? -1, killedAt - (resumed?.1 ?? 0)))
            #expect(resumedFrom != nil)
        }
    }

    /// Through a discovery script that lists the hosts whose link is up: host 1 is lost, comes back, and is taken
    /// back when host 0 is lost while the first restart is still starting.
    @Test func aHostThatComesBackIsTakenBackAndASecondFailureDuringARestartIsSurvived() throws {
        #expect(straightWeights != nil)
        let discover = temporaryDirectory().appendingPathComponent("discover.sh").path
        let job = try ElasticJob(hosts: 2, "--discover \(discover) --min-ranks 1 --max-restarts 3")
        try """
            #!/bin/sh
            \(job.hosts.map { "ip link show \($0.link) | grep -q 'state UP' && echo \($0.ip):2" }.joined(separator: "\n"))
            exit 0
            """.write(toFile: discover, atomically: true, encoding: .utf8)
        chmod(discover, 0o755)
        try job.waitForStep(20)
        job.hosts[1].lose()
        try job.waitForStep(0, restarts: 1)
        job.hosts[1].comeBack()
        job.hosts[0].lose()
        let outcome = job.process.finish()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(job.restarts.compactMap { $0["hosts"] as? String } == [job.hosts[0].ip, job.hosts[1].ip], "\(job.restarts)")
        #expect(finalWeights(job.out) != nil && finalWeights(job.out) == straightWeights)
        #expect(job.leftBehind.isEmpty, "\(job.leftBehind)")
    }

    @Test func pastMaxRestartsItStopsSayingSo() throws {
        let job = try ElasticJob(hosts: 2, "--hostfile \"$HOSTS_FILE\" --max-restarts 0")
        try job.waitForStep(10)
        job.hosts[1].lose()
        let outcome = job.process.finish()
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("elastic.sh: giving up: the job failed (status"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("after 0 restarts, the most --max-restarts allows"))
        #expect(job.leftBehind.isEmpty, "\(job.leftBehind)")
    }
}
