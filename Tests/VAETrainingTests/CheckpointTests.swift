// Checkpoints on one process: exact resumption (byte-identical weights), pruning, and every way a
// checkpoint can be wrong: corrupt, truncated, missing a file, another architecture, an unknown format, or
// weights that are not finite (never written).

import Foundation
import TestSupport
import Testing
import VAECheckpoint
import VAEConfig
import VAEMath
import VAETraining

@Suite struct CheckpointTests {
    /// 3 epochs of 20 steps on 640 real images.
    func config(_ out: String, epochs: Int = 3, everySteps: Int = 0, keep: Int = 10) -> TrainingConfig {
        var config = TrainingConfig()
        config.data.limit = 640
        config.training.epochs = epochs
        config.output.directory = out
        config.checkpoint.everySteps = everySteps
        config.checkpoint.keep = keep
        return config
    }

    func modelBytes(_ checkpoint: String) -> Data { FileManager.default.contents(atPath: checkpoint + "/model.safetensors")! }

    @Test func resumingMidEpochEndsByteIdentical() throws {
        let straight = temporaryDirectory().path, interrupted = temporaryDirectory().path
        try Trainer(config: config(straight)).run(log: { _ in })
        try Trainer(config: config(interrupted, epochs: 1, everySteps: 7)).run(log: { _ in })
        let midEpoch = try Checkpoint.read(interrupted + "/checkpoints/step-00000014")
        #expect(midEpoch.state.epoch == 0 && midEpoch.state.stepInEpoch == 14)
        let resumed = try Trainer(config: config(interrupted))
        #expect(try resumed.run(resumingFrom: midEpoch, log: { _ in }) == .completed)
        #expect(resumed.reports.map(\.steps) == [6, 20, 20])
        #expect(modelBytes(straight + "/checkpoints/step-00000060") == modelBytes(interrupted + "/checkpoints/step-00000060"))
        let optimizer = { (run: String) in FileManager.default.contents(atPath: run + "/checkpoints/step-00000060/optimizer.safetensors") }
        #expect(optimizer(straight) == optimizer(interrupted))
    }

    /// The warm-up is a function of the global step alone, so a run resumed in the middle of it takes the same
    /// rates, and ends with the same bytes, as one never stopped.
    @Test func resumingMidWarmUpEndsByteIdentical() throws {
        func warmingUp(_ out: String, epochs: Int = 2, everySteps: Int = 0) -> TrainingConfig {
            var c = config(out, epochs: epochs, everySteps: everySteps)
            c.learningRate.warmupSteps = 30
            return c
        }
        let straight = temporaryDirectory().path, interrupted = temporaryDirectory().path
        let trainer = try Trainer(config: warmingUp(straight))
        #expect(trainer.learningRate(step: 0) == Float(0.0005) / 30 && trainer.learningRate(step: 29) == 0.0005)
        try trainer.run(log: { _ in })
        #expect(trainer.reports.map(\.learningRate) == [Float(0.0005) * 20 / 30, 0.0005])
        try Trainer(config: warmingUp(interrupted, epochs: 1, everySteps: 7)).run(log: { _ in })
        let resumed = try Trainer(config: warmingUp(interrupted))
        #expect(try resumed.run(resumingFrom: try Checkpoint.read(interrupted + "/checkpoints/step-00000007"), log: { _ in }) == .completed)
        #expect(modelBytes(straight + "/checkpoints/step-00000040") == modelBytes(interrupted + "/checkpoints/step-00000040"))
    }

    @Test func pruningKeepsTheNewest() throws {
        let out = temporaryDirectory().path
        try Trainer(config: config(out, epochs: 2, everySteps: 3, keep: 2)).run(log: { _ in })
        let names = Checkpoint.all(in: out + "/checkpoints").map { ($0 as NSString).lastPathComponent }
        #expect(names == ["step-00000039", "step-00000040"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/checkpoints/latest") == "step-00000040")
    }

    @Test func theStateRecordsProgressAndTheResolvedConfig() throws {
        let out = temporaryDirectory().path
        try Trainer(config: config(out, epochs: 1)).run(log: { _ in })
        let checkpoint = try Checkpoint.read(out + "/checkpoints/latest")
        #expect(checkpoint.state.step == 20 && checkpoint.state.epoch == 1 && checkpoint.state.stepInEpoch == 0)
        #expect(checkpoint.state.worldSize == 1 && checkpoint.state.globalBatch == 32 && checkpoint.state.config == config(out, epochs: 1))
        #expect(checkpoint.model.tensor(named: "encoder_conv_0.kernel")?.shape == [3, 3, 1, 32])
        #expect(checkpoint.optimizer.metadata["step"] == "20")
    }

    @Test func corruptCheckpointsNameTheFileAndAutomaticResumeFallsBack() throws {
        let out = temporaryDirectory().path
        try Trainer(config: config(out, epochs: 1, everySteps: 7)).run(log: { _ in })
        let newest = out + "/checkpoints/step-00000020", previous = out + "/checkpoints/step-00000014"

        var bytes = [UInt8](modelBytes(newest))
        bytes[bytes.count / 2] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: newest + "/model.safetensors"))
        #expect(expectVAEError(newest + "/model.safetensors", "checksum mismatch") { _ = try Checkpoint.read(newest) } == nil)

        var warnings: [String] = []
        let fallback = try Checkpoint.newestValid(runDirectory: out) { warnings.append($0) }
        #expect(fallback.path == previous && warnings.count == 1 && warnings[0].contains(newest))

        let optimizer = previous + "/optimizer.safetensors"
        let whole = FileManager.default.contents(atPath: optimizer)!
        try whole.prefix(whole.count - 100).write(to: URL(fileURLWithPath: optimizer))
        #expect(expectVAEError(optimizer, "checksum mismatch") { _ = try Checkpoint.read(previous) } == nil)

        // A checkpoint interrupted mid-write is a .tmp- directory: never a candidate.
        try FileManager.default.createDirectory(atPath: out + "/checkpoints/.tmp-step-00000099", withIntermediateDirectories: false)
        #expect(try Checkpoint.newestValid(runDirectory: out) { _ in }.path == out + "/checkpoints/step-00000007")

        try FileManager.default.removeItem(atPath: out + "/checkpoints/step-00000007/state.json")
        #expect(expectVAEError("step-00000007/state.json") { _ = try Checkpoint.read(out + "/checkpoints/step-00000007") } == nil)
        #expect(expectVAEError("no valid checkpoint") { _ = try Checkpoint.newestValid(runDirectory: out) { _ in } } == nil)
    }

    @Test func anotherArchitectureOrFormatIsRefusedByName() throws {
        let out = temporaryDirectory().path
        try Trainer(config: config(out, epochs: 1)).run(log: { _ in })
        let checkpoint = try Checkpoint.read(out + "/checkpoints/latest")
        var wider = config(out)
        wider.model.zDim = 3
        #expect(expectVAEError("model.z_dim is 2 in the checkpoint, 3 in the config") {
            try Trainer(config: wider).run(resumingFrom: checkpoint, log: { _ in })
        } == nil)

        let state = out + "/checkpoints/latest/state.json"
        let text = try String(contentsOfFile: state, encoding: .utf8).replacingOccurrences(of: "\"format_version\" : 3", with: "\"format_version\" : 9")
        try text.write(toFile: state, atomically: true, encoding: .utf8)
        #expect(expectVAEError(state, "format version 9 is not supported") { _ = try Checkpoint.read(out + "/checkpoints/latest") } == nil)
    }

    @Test func weightsThatAreNotFiniteAreRefusedNamingTheTensor() throws {
        let out = temporaryDirectory().path, c = config(out)
        let trainer = try Trainer(config: c), p = trainer.model.parameters
        p.values[p.count - 1] = .infinity
        let last = try #require(p.entries.last { $0.trainable }).name
        let state = CheckpointState(step: 5, epoch: 0, stepInEpoch: 5, seed: 0, worldSize: 1, globalBatch: 32, learningRate: 0.0005, config: c)
        #expect(expectVAEError("checkpoints/step-00000005: no checkpoint written: tensor \(last) holds NaN or infinite values") {
            try Checkpoint.write(runDirectory: out, model: trainer.model, optimizer: trainer.optimizer, state: state, keep: 3)
        } == nil)
        #expect(!FileManager.default.fileExists(atPath: out + "/checkpoints"))
    }
}
