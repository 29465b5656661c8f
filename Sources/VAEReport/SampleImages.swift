// SampleImages: the pictures of the GDL_code notebooks, composed from what the model decodes: a grid of
// prior samples, originals above their reconstructions, the latent scatter, the decoder's manifold and
// the morph between two images; and the latent points they decode.

import VAEData
import Foundation
import VAEMath
import VAESupport

public enum SampleImages {
    /// Throws unless this model's images can be drawn: as grey (1 channel) or RGB (3) PNGs.
    public static func checkDrawable(_ model: Architecture) throws {
        guard model.inputChannels == 1 || model.inputChannels == 3 else {
            throw VAEError("model.input_shape: images are drawn with 1 (grey) or 3 (RGB) channels, not \(model.inputChannels)")
        }
    }

    /// `count` points z ~ N(0, I), row-major: a pure function of the seed, so every epoch of a run decodes the same z.
    public static func priorLatents(count: Int, zDim: Int, seed: UInt64) -> [Float] {
        (0..<count * zDim).map { CounterRandom.normal(seed: seed, purpose: .priorSamples, 0, UInt64($0 / zDim), UInt64($0 % zDim)) }
    }

    /// The book's 2-D manifold grid: each axis the prior's quantiles at `side` evenly spaced probabilities from
    /// 0.05 to 0.95. Row-major from the top left: z₁ grows to the right and z₂ upwards, as on the scatter plot.
    static func manifoldLatents(side: Int) -> [Float] {
        let quantiles = (0..<side).map { Float(normalQuantile(0.05 + 0.9 * Double($0) / Double(max(side - 1, 1)))) }
        return (0..<side).flatMap { row in (0..<side).flatMap { column in [quantiles[column], quantiles[side - 1 - row]] } }
    }

    /// `steps` points evenly spaced on the line from `a` to `b`, both included.
    public static func interpolationLatents(from a: [Float], to b: [Float], steps: Int) -> [Float] {
        precondition(a.count == b.count && steps >= 2, "interpolation needs two points of one size and at least 2 steps")
        return (0..<steps).flatMap { k in
            let t = Float(k) / Float(steps - 1)
            return zip(a, b).map { (1 - t) * $0 + t * $1 }
        }
    }

    /// The standard normal quantile (inverse CDF) of p in (0, 1), by Acklam's rational approximation
    /// (relative error below 1.2e-9): one rational function for the centre, another in √(−2 log p) for the tails.
    static func normalQuantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "normal quantile of \(p), outside (0, 1)")
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01, 1]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00, 1]
        func polynomial(_ coefficients: [Double], _ x: Double) -> Double { coefficients.reduce(0) { $0 * x + $1 } }
        let tail = 0.02425
        if p < tail || p > 1 - tail {
            let q = (-2 * log(min(p, 1 - p))).squareRoot()
            let x = polynomial(c, q) / polynomial(d, q)
            return p < tail ? x : -x
        }
        let q = p - 0.5, r = q * q
        return q * polynomial(a, r) / polynomial(b, r)
    }

    /// Images of `shape` (height, width, channels 1 or 3) tiled left to right, top to bottom.
    public static func grid(_ images: [[Float]], shape: [Int], columns: Int, padding: Int = 2) -> RasterImage {
        RasterImage.grid(images: images, imageHeight: shape[0], imageWidth: shape[1], channels: shape[2],
                         columns: columns, padding: padding)
    }

    /// Originals in a row with their reconstructions in the row under; past `columns`, further pairs of rows.
    public static func reconstructionGrid(originals: [[Float]], reconstructions: [[Float]], shape: [Int], columns: Int) -> RasterImage {
        precondition(originals.count == reconstructions.count, "one reconstruction per original is needed")
        let rows = stride(from: 0, to: originals.count, by: columns).flatMap { start -> [[Float]] in
            let end = min(start + columns, originals.count)
            let blank = [[Float]](repeating: [Float](repeating: 1, count: originals[start].count), count: columns - (end - start))
            return Array(originals[start..<end]) + blank + Array(reconstructions[start..<end]) + blank
        }
        return grid(rows, shape: shape, columns: columns)
    }

    /// The encoder means of 2-D latents as a scatter plot, coloured by label when there are labels; the legend
    /// names label n `classNames[n]` (`data.class_names`), or n where there is no such name.
    static func latentScatter(means: [Float], labels: [Int]?, classNames: [String]) -> RasterImage {
        let points = stride(from: 0, to: means.count - 1, by: 2).map { (x: means[$0], y: means[$0 + 1]) }
        return ScatterPlot.render(points: points, labels: labels.map { Array($0.prefix(points.count)) }, labelNames: classNames)
    }
}
