// Resizing decoded images to the model's input size, in pure Swift and deterministically (the same
// bytes on every machine, so every rank sees the same data). Separable: each axis has a table of
// source pixels and weights per output pixel; a horizontal pass writes Floats, a vertical pass rounds.
//   shrinking an axis: a box (area) filter, each output pixel the area-weighted mean of the source
//                      pixels it covers, partly covered ones at its edges weighted by the part covered;
//   enlarging an axis: bilinear, pixel centres aligned (output x sits at (x + 0.5) * source/target - 0.5).

extension RasterImage {
    /// The image at `height` × `width` (both > 0), same channels. `.stretch` scales each axis to the
    /// target; `.centerCrop` first cuts the middle to the target's aspect ratio (rounded to whole
    /// pixels), then scales. At the same size, the image unchanged.
    public func resized(height: Int, width: Int, mode: Resize) -> RasterImage {
        precondition(height > 0 && width > 0, "cannot resize to \(width)×\(height)")
        var crop = (top: 0, left: 0, height: self.height, width: self.width)
        if mode == .centerCrop {
            if self.width * height > width * self.height {
                crop.width = min(self.width, max(1, (self.height * width + height / 2) / height))
                crop.left = (self.width - crop.width) / 2
            } else if self.width * height < width * self.height {
                crop.height = min(self.height, max(1, (self.width * height + width / 2) / width))
                crop.top = (self.height - crop.height) / 2
            }
        }
        if crop.height == height, crop.width == width, crop.height == self.height, crop.width == self.width { return self }

        let columns = ResampleWeights(source: crop.width, target: width)
        let rows = ResampleWeights(source: crop.height, target: height)
        let c = channels, rowLength = width * c
        // Horizontal pass over the cropped rows only, into Floats: crop.height × width × channels.
        var across = [Float](repeating: 0, count: crop.height * rowLength)
        pixels.withUnsafeBufferPointer { src in
            across.withUnsafeMutableBufferPointer { dst in
                columns.withTables { first, start, weights in
                    for y in 0..<crop.height {
                        let srcRow = ((crop.top + y) * self.width + crop.left) * c
                        for x in 0..<width {
                            for ch in 0..<c {
                                var sum: Float = 0
                                var at = srcRow + first[x] * c + ch
                                for k in start[x]..<start[x + 1] {
                                    sum += weights[k] * Float(src[at])
                                    at += c
                                }
                                dst[y * rowLength + x * c + ch] = sum
                            }
                        }
                    }
                }
            }
        }
        // Vertical pass: each output row a weighted sum of whole rows of `across`, rounded.
        var out = [UInt8](repeating: 0, count: height * rowLength)
        var sum = [Float](repeating: 0, count: rowLength)
        across.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                sum.withUnsafeMutableBufferPointer { sum in
                    rows.withTables { first, start, weights in
                        for y in 0..<height {
                            for i in 0..<rowLength { sum[i] = 0 }
                            for k in start[y]..<start[y + 1] {
                                let w = weights[k]
                                let srcRow = (first[y] + k - start[y]) * rowLength
                                for i in 0..<rowLength { sum[i] += w * src[srcRow + i] }
                            }
                            for i in 0..<rowLength { dst[y * rowLength + i] = UInt8(min(max(sum[i] + 0.5, 0), 255)) }
                        }
                    }
                }
            }
        }
        return RasterImage(height: height, width: width, channels: c, pixels: out)
    }
}

/// One axis's resampling: output pixel `i` is the sum over `k` in `start[i]..<start[i + 1]` of
/// `weights[k]` times source pixel `first[i] + k - start[i]` (a run of consecutive source pixels).
struct ResampleWeights {
    var first: [Int] = []
    var start: [Int] = [0]
    var weights: [Float] = []

    init(source: Int, target: Int) {
        let scale = Double(source) / Double(target)
        for i in 0..<target {
            var taps: [Double] = []
            if target < source {
                // Box: the output pixel covers [lo, hi) in source pixels; the weights are the overlaps.
                let lo = Double(i * source) / Double(target), hi = Double((i + 1) * source) / Double(target)
                let firstPixel = Int(lo.rounded(.down)), end = min(source, Int(hi.rounded(.up)))
                first.append(firstPixel)
                for j in firstPixel..<end { taps.append(min(hi, Double(j + 1)) - max(lo, Double(j))) }
            } else {
                // Bilinear between the two nearest source centres, clamped at the edges.
                let x = min(max((Double(i) + 0.5) * scale - 0.5, 0), Double(source - 1))
                let left = Int(x.rounded(.down)), t = x - Double(left)
                first.append(left)
                taps = t > 0 ? [1 - t, t] : [1]
            }
            let total = taps.reduce(0, +)
            weights += taps.map { Float($0 / total) }
            start.append(weights.count)
        }
    }

    /// Runs `body` on the three tables as unchecked buffers, for the inner loops.
    func withTables<R>(_ body: (UnsafeBufferPointer<Int>, UnsafeBufferPointer<Int>, UnsafeBufferPointer<Float>) -> R) -> R {
        first.withUnsafeBufferPointer { first in
            start.withUnsafeBufferPointer { start in weights.withUnsafeBufferPointer { body(first, start, $0) } }
        }
    }
}
