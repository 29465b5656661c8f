// LatentHistograms: the book's check of a latent space of more than two dimensions (GDL_code
// 03_06_vae_faces_analysis): for each of the first 50 dimensions, a histogram of the encoder means μ over the
// test images, drawn against the density of N(0, 1), which the KL term pulls them towards. One small panel per
// dimension, 10 to a row. Unlike the notebook's autoscaled panels, every panel shows the same x range and density
// scale, so the curve is the same everywhere and a dimension that strays from it (too narrow, shifted, collapsed
// to a spike at 0) stands out at a glance.

import VAEData
import Foundation

enum LatentHistograms {
    /// How many dimensions are drawn (the first ones), and how many panels to a row.
    static let shownDimensions = 50, columns = 10
    /// The x range of every panel, in standard deviations of the prior, cut into `bins` equal bins.
    static let low: Float = -3, high: Float = 3, bins = 24
    /// The density at the top of every panel: N(0, 1)'s peak, 0.399, sits at 80% of the height; taller bars are cut off.
    static let densityMax: Float = 0.5
    /// The plot area of a panel in pixels (`right − left`, `bottom − top`): 4 pixels per bin.
    static let plotWidth = 96, plotHeight = 64
    static let margin = 12, panelsTop = 28, columnPitch = plotWidth + 20, rowPitch = 10 + plotHeight + 20

    /// Bars and curve in matplotlib's first two colours, as the notebook draws them.
    static let barColor = ScatterPlot.palette[0], curveColor = ScatterPlot.palette[1]
    static let black: [UInt8] = [0, 0, 0], frameColor: [UInt8] = [190, 190, 190]

    /// The histogram of `values` over `bins` equal bins of [low, high] (the last bin closed) as densities: each bin's
    /// count / (n · bin width), n the number of finite values. Values outside the range count in n but have no bar,
    /// so the bars' area is the share of values inside the range, to compare with the curve's (0.997 over [−3, 3]).
    static func densities(_ values: [Float], bins: Int, low: Float, high: Float) -> [Float] {
        precondition(bins > 0 && high > low, "LatentHistograms: empty range or no bins")
        let width = (high - low) / Float(bins)
        var counts = [Int](repeating: 0, count: bins), n = 0
        for value in values where value.isFinite {
            n += 1
            guard value >= low && value <= high else { continue }
            counts[min(bins - 1, Int((value - low) / width))] += 1
        }
        return counts.map { n == 0 ? 0 : Float($0) / (Float(n) * width) }
    }

    /// The standard normal density.
    static func normalDensity(_ x: Float) -> Float {
        expf(-x * x / 2) / Float(2 * Double.pi).squareRoot()
    }

    /// The plot area of the `index`th panel, counted left to right, top to bottom.
    static func frame(panel index: Int) -> PlotFrame {
        let left = margin + (index % columns) * columnPitch, top = panelsTop + (index / columns) * rowPitch + 10
        return PlotFrame(xMin: low, xMax: high, yMin: 0, yMax: densityMax, left: left, top: top,
                         right: left + plotWidth, bottom: top + plotHeight)
    }

    /// The panels of the first `shownDimensions` dimensions of `means` (`count × zDim` encoder means, row-major) on a
    /// white RGB image, under a title line that names the count and the dimensions shown.
    static func render(means: [Float], zDim: Int) -> RasterImage {
        precondition(zDim > 0 && means.count % zDim == 0, "LatentHistograms: \(means.count) means are not whole points of \(zDim)")
        let count = means.count / zDim, shown = min(shownDimensions, zDim)
        let title = "ENCODER MEANS OF \(count) TEST IMAGES, DIMENSIONS 0-\(shown - 1) OF \(zDim), AGAINST N(0,1)"
        let rows = (shown + columns - 1) / columns
        let width = max(2 * margin + (min(shown, columns) - 1) * columnPitch + plotWidth + 1, 2 * margin + BitmapFont.width(of: title))
        var image = RasterImage(width: width, height: panelsTop + rows * rowPitch, channels: 3, background: 255)
        BitmapFont.draw(title, at: margin, y: 8, color: black, on: &image)
        for dimension in 0..<shown {
            let values = stride(from: dimension, to: means.count, by: zDim).map { means[$0] }
            let frame = frame(panel: dimension)
            drawPanel(densities(values, bins: bins, low: low, high: high), in: frame, on: &image)
            let label = String(dimension)
            BitmapFont.draw(label, at: (frame.left + frame.right) / 2 - BitmapFont.width(of: label) / 2, y: frame.top - 10, color: black, on: &image)
            // The x axis is the same in every panel, so only the lowest panel of each column carries its numbers.
            let lowestInColumn = dimension + columns >= shown
            for tick in Axis.ticks(Double(low), Double(high)) {
                let x = frame.pixel(for: (Float(tick.value), 0)).x
                image.fillRect(x: x, y: frame.bottom + 1, width: 1, height: 3, color: frameColor)
                if lowestInColumn {
                    BitmapFont.draw(tick.text, at: x - BitmapFont.width(of: tick.text) / 2, y: frame.bottom + 6, color: black, on: &image)
                }
            }
        }
        return image
    }

    /// One panel: a bar per bin (at least a pixel high when the bin holds any value, so sparse tails show),
    /// the N(0, 1) density as a 2-pixel line over them, and the frame around the plot area.
    static func drawPanel(_ densities: [Float], in frame: PlotFrame, on image: inout RasterImage) {
        let binWidth = (frame.xMax - frame.xMin) / Float(densities.count)
        for (bin, density) in densities.enumerated() where density > 0 {
            let x0 = frame.pixel(for: (frame.xMin + Float(bin) * binWidth, 0)).x
            let x1 = frame.pixel(for: (frame.xMin + Float(bin + 1) * binWidth, 0)).x
            let top = min(frame.pixel(for: (0, min(density, frame.yMax))).y, frame.bottom - 1)
            image.fillRect(x: x0 + 1, y: top, width: x1 - x0 - 1, height: frame.bottom - top, color: barColor)
        }
        var previous: Int?
        for x in frame.left...frame.right {
            let value = frame.xMin + Float(x - frame.left) / Float(frame.right - frame.left) * (frame.xMax - frame.xMin)
            let y = frame.pixel(for: (value, normalDensity(value))).y
            let from = min(previous ?? y, y), to = max(previous ?? y, y)
            image.fillRect(x: x, y: from, width: 1, height: to - from + 2, color: curveColor)
            previous = y
        }
        image.strokeRect(x: frame.left, y: frame.top, width: frame.right - frame.left + 1, height: frame.bottom - frame.top + 1, color: frameColor)
    }
}
