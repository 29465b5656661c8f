// `vae train` on an output disk that fills up or turns read-only, each a small tmpfs (root only): a checkpoint
// that cannot be written stops the run (beside the 4 MB test in CommandLineTests), keeping the previous one;
// pictures, the report and metrics.jsonl cost a warning a sample point or an epoch, and the run trains on; an
// output directory that cannot be written at all stops the run before it starts. No temporary file stays.

import Foundation
import TestSupport
import Testing

extension CommandLineTests {
    /// Two epochs of 4 steps, a checkpoint and a sample point after each.
    var twoEpochs: [String] { ["train", "--config", config, "--set", "data.limit=128", "--set", "training.epochs=2"] }

    /// Trains two epochs into `out`, which must end with both checkpoints, no report.html and no temporary file
    /// left; returns the warning lines.
    func trainWarning(_ settings: [String] = [], out: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [Substring] {
        let outcome = try runVAE(twoEpochs + settings + ["--out", out])
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)", sourceLocation: sourceLocation)
        #expect(contents(out + "/checkpoints") == ["latest", "step-00000004", "step-00000008"], sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: out + "/report.html"), sourceLocation: sourceLocation)
        #expect(temporaries(under: out).isEmpty, sourceLocation: sourceLocation)
        return outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("warning: ") }
    }

    func contents(_ path: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    /// Files a failed write would have left: `NAME.tmp` and checkpoints' `.tmp-step-N`.
    func temporaries(under path: String) -> [String] {
        (FileManager.default.subpaths(atPath: path) ?? []).filter { $0.hasSuffix(".tmp") || $0.contains(".tmp-") }
    }

    @Test(mountingNeedsRoot, arguments: [false, true])
    func picturesThatCannotBeWrittenWarnOnceAnEpochAndTheRunTrainsOn(readOnly: Bool) throws {
        let out = directory.path, mounts = TemporaryMounts()
        defer { mounts.unmountAll() }
        try mounts.tmpfs(at: out + "/samples", size: "64k", readOnly: readOnly, full: !readOnly)
        #expect(try trainWarning(out: out) == (1...2).map { epoch -> Substring in
            let samples = "\(out)/samples/epoch-000\(epoch)"
            let reason = readOnly ? "cannot create directory \(samples): Read-only file system"
                                  : "cannot write \(samples)/prior.png: write failed: No space left on device"
            return "warning: no samples after epoch \(epoch): \(reason); training goes on"
        })
        #expect(contents(out + "/samples") == (readOnly ? [] : ["filler"]), "no half-drawn epoch is left")
    }

    /// The checkpoints and pictures have room on file systems of their own; the output directory has none.
    @Test(mountingNeedsRoot)
    func aFullDiskCostsMetricsAndTheReportAWarningAnEpochAndTheRunTrainsOn() throws {
        let out = directory.path, mounts = TemporaryMounts()
        defer { mounts.unmountAll() }
        try mounts.tmpfs(at: out, size: "1m", full: true)
        try mounts.tmpfs(at: out + "/checkpoints")
        try mounts.tmpfs(at: out + "/samples")
        let full = "write failed: No space left on device; training goes on"
        // A line every step, one warning an epoch; the report's come from the pictures' writer thread, in its own time;
        // TensorBoard's events, once.
        let warnings = try trainWarning(["--set", "training.log_every_steps=1"], out: out)
        let tensorBoard = warnings.filter { $0.hasPrefix("warning: TensorBoard's events") }
        #expect(tensorBoard.count == 1 && tensorBoard[0].hasPrefix("warning: TensorBoard's events are not all recorded: cannot write \(out)/tensorboard/events.out.tfevents.")
                && tensorBoard[0].hasSuffix(full), "\(tensorBoard)")
        #expect(warnings.filter { !$0.hasPrefix("warning: TensorBoard's events") }.sorted() == (1...2).flatMap { epoch -> [Substring] in
            ["warning: epoch \(epoch)'s metrics are not all recorded: cannot write \(out)/metrics.jsonl: \(full)",
             "warning: no report after epoch \(epoch): cannot write \(out)/report.html: \(full)"]
        }.sorted())
        #expect(try FileManager.default.attributesOfItem(atPath: out + "/metrics.jsonl")[.size] as? Int == 0, "no torn line")
        #expect(contents(out + "/samples") == ["epoch-0001", "epoch-0002"] && contents(out + "/samples/epoch-0002").count == 4)
    }

    @Test(mountingNeedsRoot)
    func aReadOnlyOutputDirectoryStopsTheRunBeforeItStarts() throws {
        let out = directory.path, mounts = TemporaryMounts()
        defer { mounts.unmountAll() }
        try mounts.tmpfs(at: out, readOnly: true)
        try expectOneLineError(twoEpochs + ["--out", out],
                               mentioning: ["output.dir: cannot write \(out)/metrics.jsonl", "Read-only file system"])
    }

    /// Between two runs rather than during one, so that the test knows which write meets the read-only disk first.
    @Test(mountingNeedsRoot)
    func checkpointsTurnedReadOnlyStopTheRunAndKeepTheLastOne() throws {
        let out = directory.path, mounts = TemporaryMounts()
        defer { mounts.unmountAll() }
        try mounts.tmpfs(at: out + "/checkpoints")
        #expect(try runVAE(twoEpochs + ["--set", "training.epochs=1", "--out", out]).status == 0)
        try mounts.remountReadOnly(out + "/checkpoints")
        try expectOneLineError(twoEpochs + ["--out", out, "--resume"],
                               mentioning: [out + "/checkpoints/.tmp-step-00000008", "Read-only file system"])
        #expect(contents(out + "/checkpoints") == ["latest", "step-00000004"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/checkpoints/latest") == "step-00000004")
    }
}
