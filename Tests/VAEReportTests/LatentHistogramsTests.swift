// The latent histograms of a z_dim > 2 run: known means land in their bins as densities, each panel draws its
// bars where its values are and the N(0, 1) curve over them, and only the first 50 dimensions get a panel.

import Testing
import VAEData
@testable import VAEReport

@Suite struct LatentHistogramsTests {
    @Test func knownMeansLandInTheirBinsAsDensities() {
        // Seven finite values: two in the first bin (the low end included), two in the middle one, two in the last
        // (the high end included), one outside the range that counts in n but has no bar.
        let values: [Float] = [-3, -2.9, 0.1, 0.1, 2.99, 3, 5, .nan, -.infinity]
        let densities = LatentHistograms.densities(values, bins: 24, low: -3, high: 3)
        let two = Float(2) / (7 * 0.25)
        #expect(densities.count == 24 && densities[0] == two && densities[12] == two && densities[23] == two)
        #expect(densities.enumerated().allSatisfy { [0, 12, 23].contains($0.offset) || $0.element == 0 }, "\(densities)")
        #expect(LatentHistograms.densities([], bins: 4, low: -1, high: 1) == [0, 0, 0, 0])
    }

    @Test func eachPanelDrawsItsBarTheCurveAndItsFrame() {
        // 12 dimensions of 100 points each: dimension d is always at the middle of bin 2d, so its bar is cut off at the top.
        let zDim = 12, binWidth = Float(0.25)
        let centre = (0..<zDim).map { -3 + binWidth * (Float(2 * $0) + 0.5) }
        let image = LatentHistograms.render(means: (0..<100).flatMap { _ in centre }, zDim: zDim)
        #expect(image.channels == 3 && image.width == 2 * 12 + 9 * 116 + 97 && image.height == 28 + 2 * 94)
        for dimension in 0..<zDim {
            let frame = LatentHistograms.frame(panel: dimension), x = frame.left + 8 * dimension + 2
            let middle = (frame.top + frame.bottom) / 2
            #expect(pixel(image, x, frame.top + 1) == LatentHistograms.barColor, "panel \(dimension): the bar reaches the top")
            #expect(pixel(image, x + 4, frame.top + 1) == [255, 255, 255], "panel \(dimension): the next bin is empty")
            #expect(pixel(image, x - 4, middle) != LatentHistograms.barColor, "panel \(dimension): the bin before is empty")
            let peak = frame.pixel(for: (0, LatentHistograms.normalDensity(0)))
            #expect(pixel(image, peak.x, peak.y) == LatentHistograms.curveColor, "panel \(dimension): the curve's peak")
            #expect(pixel(image, frame.left, frame.top) == LatentHistograms.frameColor && pixel(image, frame.right, frame.bottom) == LatentHistograms.frameColor)
            // The dimension's number above the panel.
            let label = (frame.left..<frame.right).flatMap { x in (frame.top - 10..<frame.top - 3).map { pixel(image, x, $0) } }
            #expect(label.contains([0, 0, 0]), "panel \(dimension) is numbered")
        }
    }

    @Test func onlyTheFirstFiftyDimensionsGetAPanel() {
        let image = LatentHistograms.render(means: [Float](repeating: 0, count: 3 * 200), zDim: 200)
        #expect(image.width == 2 * 12 + 9 * 116 + 97 && image.height == 28 + 5 * 94)
        let last = LatentHistograms.frame(panel: 49)
        #expect(last.bottom < image.height && last.right < image.width)
        #expect(pixel(image, last.left + 49, last.top + 1) == LatentHistograms.barColor, "all the means at 0: the bar at 0 reaches the top")
    }

    private func pixel(_ image: RasterImage, _ x: Int, _ y: Int) -> [UInt8] {
        (0..<image.channels).map { image[x: x, y: y, channel: $0] }
    }
}
