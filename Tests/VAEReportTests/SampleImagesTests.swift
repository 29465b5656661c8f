// The latent points and pictures of the sample images: the normal quantile against known values, the
// manifold grid's orientation, fixed prior draws, interpolation ends, reconstruction grid geometry, grids in
// colour and in grey, the test set's errors naming their key, and the live progress line's throttling.

import Foundation
import TestSupport
import Testing
import VAEData
@testable import VAEConfig
@testable import VAEData
import VAEMath
@testable import VAEReport
@testable import VAETraining

@Suite struct SampleImagesTests {
    let directory = temporaryDirectory()

    @Test func normalQuantileMatchesKnownValues() {
        let known: [(p: Double, z: Double)] = [(0.5, 0), (0.975, 1.959963984540054), (0.05, -1.6448536269514722),
                                               (0.01, -2.3263478740408408), (1e-6, -4.753424308822899)]
        for (p, z) in known {
            #expect(abs(SampleImages.normalQuantile(p) - z) <= 1e-8 * max(1, abs(z)), "p = \(p)")
            #expect(abs(SampleImages.normalQuantile(1 - p) + z) <= 1e-8 * max(1, abs(z)), "p = 1 − \(p)")
        }
    }

    @Test func manifoldRunsAcrossInZ1AndUpInZ2() {
        let z = SampleImages.manifoldLatents(side: 3), q = Float(1.6448536)
        let expected: [Float] = [-q, q, 0, q, q, q, -q, 0, 0, 0, q, 0, -q, -q, 0, -q, q, -q]
        #expect(zip(z, expected).allSatisfy { abs($0 - $1) < 1e-5 } && z.count == expected.count, "\(z)")
    }

    @Test func priorDrawsAreFixedPerSeedAndStandardNormal() {
        let a = SampleImages.priorLatents(count: 5000, zDim: 2, seed: 3)
        #expect(a == SampleImages.priorLatents(count: 5000, zDim: 2, seed: 3))
        #expect(a != SampleImages.priorLatents(count: 5000, zDim: 2, seed: 4))
        let mean = a.reduce(0, +) / Float(a.count), variance = a.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(a.count)
        #expect(abs(mean) < 0.05 && abs(variance - 1) < 0.05, "mean \(mean), variance \(variance)")
    }

    @Test func interpolationIncludesBothEnds() {
        #expect(SampleImages.interpolationLatents(from: [0, 2], to: [1, -2], steps: 3) == [0, 2, 0.5, 0, 1, -2])
    }

    @Test func reconstructionGridPairsRowsAndPadsTheLastPair() {
        let black = [Float](repeating: 0, count: 4), grey = [Float](repeating: 0.5, count: 4)
        let image = SampleImages.reconstructionGrid(originals: Array(repeating: black, count: 3), reconstructions: Array(repeating: grey, count: 3),
                                                    shape: [2, 2, 1], columns: 2)
        #expect(image.width == 2 * 2 + 3 * 2 && image.height == 4 * 2 + 5 * 2)
        // Rows: originals 0–1, reconstructions 0–1, original 2 and a blank, reconstruction 2 and a blank.
        #expect(image[x: 2, y: 2, channel: 0] == 0 && image[x: 6, y: 2, channel: 0] == 0)
        #expect(image[x: 2, y: 6, channel: 0] == 128 && image[x: 6, y: 6, channel: 0] == 128)
        #expect(image[x: 2, y: 10, channel: 0] == 0 && image[x: 6, y: 10, channel: 0] == 255)
        #expect(image[x: 2, y: 14, channel: 0] == 128 && image[x: 6, y: 14, channel: 0] == 255)
    }

    @Test func colourImagesMakeColourPNGsAndGreyOnesStayGrey() throws {
        let red = (0..<12).map { Float($0 % 3 == 0 ? 1 : 0) }, green = (0..<12).map { Float($0 % 3 == 1 ? 1 : 0) }  // 2×2×3 each
        let path = directory.appendingPathComponent("grid.png").path
        try writePNG(SampleImages.reconstructionGrid(originals: [red, green], reconstructions: [green, red], shape: [2, 2, 3], columns: 2), path)
        let colour = try decodePNG(file: path)
        #expect(colour.colourType == 2 && colour.width == 2 * 2 + 3 * 2 && colour.height == 2 * 2 + 3 * 2)
        // Cells start every 4 pixels after the 2-pixel border: originals in the top row, reconstructions under them.
        #expect(colour.pixel(x: 2, y: 2) == [255, 0, 0] && colour.pixel(x: 3, y: 3) == [255, 0, 0] && colour.pixel(x: 6, y: 2) == [0, 255, 0])
        #expect(colour.pixel(x: 2, y: 6) == [0, 255, 0] && colour.pixel(x: 7, y: 7) == [255, 0, 0] && colour.pixel(x: 4, y: 4) == [255, 255, 255])

        try writePNG(SampleImages.grid([[0, 0.5, 1, 0.25]], shape: [2, 2, 1], columns: 1), path)
        let grey = try decodePNG(file: path)
        #expect(grey.colourType == 0 && grey.width == 6 && grey.height == 6)
        #expect([grey.pixel(x: 2, y: 2), grey.pixel(x: 3, y: 2), grey.pixel(x: 2, y: 3), grey.pixel(x: 3, y: 3)] == [[0], [128], [255], [64]])
    }

    @Test func testSetErrorsNameTheirKey() throws {
        var config = TrainingConfig()
        let small = smallTestSet(in: directory)
        config.data.test = small.images
        config.data.testLabels = small.labels
        #expect(try TestSet(config: config).labels == (0..<40).map { $0 % 10 })
        config.data.testLabels = directory.appendingPathComponent("gone").path
        #expect(expectVAEError("data.test_labels", "gone", "no such data file") { _ = try TestSet(config: config) } == nil)
        config.data.testLabels = write(IDXFile(dimensions: [7], bytes: Array(repeating: 1, count: 7)).encoded, to: directory.appendingPathComponent("seven"))
        #expect(expectVAEError("data.test_labels", "7 labels for 40 test images") { _ = try TestSet(config: config) } == nil)
        config.data.testLabels = small.images
        #expect(expectVAEError("data.test_labels", "not a list of labels") { _ = try TestSet(config: config) } == nil)
        config.data.test = write(imageFile(count: 5, height: 8, width: 8).encoded, to: directory.appendingPathComponent("small"))
        #expect(expectVAEError("data.test", "8×8×1", "28×28×1") { _ = try TestSet(config: config) } == nil)
        config.data.test = directory.appendingPathComponent("missing").path
        #expect(expectVAEError("data.test", "missing", "no such data file") { _ = try TestSet(config: config) } == nil)
    }

    @Test func liveProgressRedrawsAtMostFourTimesASecond() {
        nonisolated(unsafe) var written: [String] = []
        let progress = LiveProgress { written.append($0) }
        progress.clear()
        #expect(written.isEmpty)
        for step in 1...100 {
            progress.update(epoch: 0, of: 2, step: step, of: 100, stepsTaken: step, loss: LossSums(reconstruction: 10, kl: 2, samples: 4), seconds: 1)
        }
        #expect(written.count == 1)
        #expect(written[0] == "\r\u{1B}[Kepoch 1/2  step 1/100  loss 3.000  images/s 4  ETA 3m 19s")
        progress.clear()
        #expect(written.last == "\r\u{1B}[K")
        #expect(LiveProgress.duration(42) == "42 s" && LiveProgress.duration(7530) == "2h 05m")
    }
}
