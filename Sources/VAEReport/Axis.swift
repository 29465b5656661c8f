// Axis: how the pictures scale an axis: the data's range padded by 5% each side, and about five "nice" ticks
// (1, 2 or 5 times a power of ten) inside a range. The latent scatter and histograms (PNG) and report.html's
// loss curves (SVG) all draw their axes with it, so they read alike; the PNG plots map data to pixels by a PlotFrame.

import Foundation

enum Axis {
    /// The min and max of `values` widened by 5% each side; no values or a zero-width range get a unit range first.
    static func paddedRange(_ values: [Double]) -> (min: Double, max: Double) {
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if hi - lo <= 0 { (lo, hi) = (lo - 0.5, hi + 0.5) }
        let margin = (hi - lo) * 0.05
        return (lo - margin, hi + margin)
    }

    /// About five "nice" tick values inside [lo, hi], each with its label.
    static func ticks(_ low: Double, _ high: Double) -> [(value: Double, text: String)] {
        guard high > low, (high - low).isFinite else { return [] }
        let exponent = Int(floor(log10((high - low) / 5)))
        // Steps of 1, 2, 5 and 10 times 10^exponent span roughly 10 down to 2 ticks;
        // keep the one whose count is closest to five (ties favour the finer step).
        let candidates = [(1.0, exponent), (2.0, exponent), (5.0, exponent), (1.0, exponent + 1)]
        let options = candidates.map { multiplier, e -> (first: Int, last: Int, step: Double, decimals: Int) in
            let step = multiplier * pow(10, Double(e))
            return (Int(ceil(low / step)), Int(floor(high / step)), step, max(0, -e))
        }
        let best = options.min { abs($0.last - $0.first + 1 - 5) < abs($1.last - $1.first + 1 - 5) }!
        guard best.first <= best.last else { return [] }
        // Multiplying an integer index avoids accumulated error and "-0.0" labels.
        return (best.first...best.last).map { k in
            let value = Double(k) * best.step
            return (value, String(format: "%.\(best.decimals)f", value))
        }
    }
}

/// The mapping between data coordinates and pixel coordinates of a plot's area.
struct PlotFrame: Equatable, Sendable {
    /// Data range shown on the x axis.
    let xMin: Float, xMax: Float
    /// Data range shown on the y axis.
    let yMin: Float, yMax: Float
    /// Plot area in pixels, inclusive; `xMin` maps to `left`, `yMin` to `bottom`.
    let left: Int, top: Int, right: Int, bottom: Int

    /// Creates a frame; the ranges and the pixel area must be non-empty.
    init(xMin: Float, xMax: Float, yMin: Float, yMax: Float, left: Int, top: Int, right: Int, bottom: Int) {
        precondition(xMax > xMin && yMax > yMin && right > left && bottom > top, "PlotFrame: empty range or area")
        (self.xMin, self.xMax, self.yMin, self.yMax) = (xMin, xMax, yMin, yMax)
        (self.left, self.top, self.right, self.bottom) = (left, top, right, bottom)
    }

    /// The pixel for a finite data point; y grows upwards in data, downwards in pixels.
    func pixel(for point: (x: Float, y: Float)) -> (x: Int, y: Int) {
        let fx = (Double(point.x) - Double(xMin)) / (Double(xMax) - Double(xMin))
        let fy = (Double(point.y) - Double(yMin)) / (Double(yMax) - Double(yMin))
        return (left + Int((fx * Double(right - left)).rounded()),
                bottom - Int((fy * Double(bottom - top)).rounded()))
    }
}
