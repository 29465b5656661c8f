// The faces architecture (batch norm, dropout, z 200) on a folder of JPEGs made by `vae make-images`, at
// 32×32 to keep a debug build quick: 1, 2 and 4 ranks (by either allreduce) train the same bytes under mpirun, a run resumed from
// a checkpoint ends the same, the pictures are in colour with latent histograms, and the analysis commands
// (an attribute's strip, a morph between files named as the book names them) work on the checkpoint.

import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct FacesFolderTests {
    /// 96 generated images, and configs/faces.yaml at 32×32 on them: 6 steps of 16 an epoch, 2 epochs.
    static let setup: (folder: String, settings: [String]) = {
        let folder = temporaryDirectory().path + "/images"
        let made = try! runVAE(["make-images", folder, "--count", "96", "--size", "32"])
        precondition(made.status == 0, made.stderr)
        let settings = ["model.input_shape=[32, 32, 3]", "data.train=\(folder)", "data.test=\(folder)", "data.cache_dir=\(temporaryDirectory().path)",
                        "training.epochs=2", "training.batch_size=16", "checkpoint.every_steps=4", "checkpoint.keep=10", "training.log_every_steps=2"]
        return (folder, settings.flatMap { ["--set", $0] })
    }()

    func finalWeights(_ out: String) -> Data? { FileManager.default.contents(atPath: out + "/checkpoints/step-00000012/model.safetensors") }

    func train(ranks: Int, _ arguments: [String]) throws -> String {
        let outcome = try mpirunTrain(ranks: ranks, Self.setup.settings + arguments, config: packageRoot.appendingPathComponent("configs/faces.yaml").path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return outcome.stdout
    }

    @Test func oneAndTwoRanksTrainTheSameBytesAndAResumedRunEndsTheSame() throws {
        let one = temporaryDirectory().path, two = temporaryDirectory().path
        let log = try train(ranks: 1, ["--out", one])
        #expect(log.contains("training 96 images of 32×32×3 from \(Self.setup.folder)"), "\(log)")
        _ = try train(ranks: 2, ["--out", two])
        #expect(finalWeights(one) != nil && finalWeights(one) == finalWeights(two))

        let resumed = temporaryDirectory().path
        try FileManager.default.createDirectory(atPath: resumed + "/checkpoints", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: two + "/checkpoints/step-00000004", toPath: resumed + "/checkpoints/step-00000004")
        #expect(try train(ranks: 2, ["--out", resumed, "--resume"]).contains("resuming from"))
        #expect(finalWeights(resumed) == finalWeights(one))

        let samples = two + "/samples/epoch-0002"
        let pictures = try FileManager.default.contentsOfDirectory(atPath: samples)
        #expect(pictures.contains("latent-histograms.png") && !pictures.contains("latent-scatter.png"), "\(pictures)")
        for picture in pictures where picture.hasSuffix(".png") {
            #expect(pngColourType(samples + "/" + picture) == 2, "\(picture) is not an RGB PNG")
        }
    }

    @Test func fourRanksByHalvingOrByDoublingTrainOneRanksBytes() throws {
        // Micro-batches of 4 so that 4 ranks share the batch of 16. The Dense layers' buckets (51,200 floats)
        // go by Rabenseifner's halving under `auto`, the small ones by recursive doubling.
        let micro4 = ["--set", "training.micro_batch=4"]
        let one = temporaryDirectory().path, halving = temporaryDirectory().path, doubling = temporaryDirectory().path
        _ = try train(ranks: 1, micro4 + ["--out", one])
        _ = try train(ranks: 4, micro4 + ["--out", halving])
        _ = try train(ranks: 4, micro4 + ["--set", "allreduce.algorithm=doubling", "--out", doubling])
        #expect(finalWeights(one) != nil && finalWeights(halving) == finalWeights(one) && finalWeights(doubling) == finalWeights(one))
    }

    @Test func attributeStripsAndMorphsBetweenNamedFiles() throws {
        let out = temporaryDirectory().path
        _ = try train(ranks: 1, ["--out", out, "--set", "training.epochs=1"])
        let checkpoint = ["--checkpoint", out + "/checkpoints/latest"], folder = Self.setup.folder
        let strip = out + "/footwear.png"
        let made = try runVAE(["attribute"] + checkpoint + ["--data", folder, "--attributes", folder + "/list_attr.csv",
                                                            "--name", "Footwear", "--faces", "3", "--out", strip])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(pngSize(strip).map { [$0.width, $0.height] } == [10 * 34 + 2, 3 * 34 + 2])  // tiles of 32 with 2-pixel gaps
        let morph = out + "/morph.png"
        let morphed = try runVAE(["interpolate"] + checkpoint + ["--data", folder, "--from", "000038.jpg", "--to", "000019.jpg",
                                                                 "--steps", "6", "--out", morph])
        #expect(morphed.status == 0, "\(morphed.stderr)")
        #expect(pngSize(morph)?.width == 8 * 34 + 2)
        let unknown = try runVAE(["attribute"] + checkpoint + ["--data", folder, "--attributes", folder + "/list_attr.csv",
                                                               "--name", "Smiling", "--out", strip])
        #expect(unknown.status == 2 && unknown.stderr.contains("no attribute Smiling"), "\(unknown.stderr)")
        let missing = try runVAE(["interpolate"] + checkpoint + ["--data", folder, "--from", "999999.jpg", "--to", "0", "--out", morph])
        #expect(missing.status == 2 && missing.stderr.contains("--from 999999.jpg"), "\(missing.stderr)")
    }
}
