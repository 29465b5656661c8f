// ScatterPlot.swift
// Renders 2-D latent codes as a labelled scatter plot (points coloured by
// class, axes with numeric ticks, legend) into a RasterImage, so the trainer
// can save latent-space visualisations as PNG without a plotting library.

import VAEData
import Foundation

/// Draws RGB scatter plots of 2-D points coloured by integer label.
enum ScatterPlot {
    /// matplotlib's tab10 colours; label `n` uses entry `n mod 10`.
    static let palette: [[UInt8]] = [
        [0x1F, 0x77, 0xB4], [0xFF, 0x7F, 0x0E], [0x2C, 0xA0, 0x2C], [0xD6, 0x27, 0x28], [0x94, 0x67, 0xBD],
        [0x8C, 0x56, 0x4B], [0xE3, 0x77, 0xC2], [0x7F, 0x7F, 0x7F], [0xBC, 0xBD, 0x22], [0x17, 0xBE, 0xCF],
    ]

    /// The palette colour used for `label` (unlabelled points use label 0).
    static func color(forLabel label: Int) -> [UInt8] {
        palette[((label % palette.count) + palette.count) % palette.count]
    }

    /// The frame `render` uses for the same arguments.
    ///
    /// The data range is the min/max of the finite points widened by 5% on each
    /// side (a zero-width range is first widened to one unit). Margins leave
    /// room for tick labels and, when `labels` is given, the legend on the right.
    static func frame(points: [(x: Float, y: Float)], labels: [Int]?, labelNames: [String],
                      width: Int = 640, height: Int = 640) -> PlotFrame {
        let finite = points.filter { $0.x.isFinite && $0.y.isFinite }
        let x = Axis.paddedRange(finite.map { Double($0.x) }), y = Axis.paddedRange(finite.map { Double($0.y) })
        let (xMin, xMax, yMin, yMax) = (Float(x.min), Float(x.max), Float(y.min), Float(y.max))
        let yLabelWidth = Axis.ticks(Double(yMin), Double(yMax)).map { BitmapFont.width(of: $0.text) }.max() ?? 0
        let entries = legendEntries(labels: labels, names: labelNames)
        let legendWidth = entries.isEmpty ? 0 : legendSize(entries).width + 12
        let left = yLabelWidth + 12, top = 12
        return PlotFrame(xMin: xMin, xMax: xMax, yMin: yMin, yMax: yMax,
                     left: left, top: top,
                     right: max(left + 1, width - 1 - 12 - legendWidth),
                     bottom: max(top + 1, height - 1 - 26))
    }

    /// Renders the scatter plot as a white-background RGB image of the requested size.
    ///
    /// - Parameters:
    ///   - points: Data points; non-finite ones are skipped.
    ///   - labels: Optional per-point labels (same count as `points`) choosing the colour.
    ///   - labelNames: Legend names indexed by label; a label without a name shows its number.
    static func render(points: [(x: Float, y: Float)], labels: [Int]?, labelNames: [String],
                       width: Int = 640, height: Int = 640) -> RasterImage {
        precondition(labels.map { $0.count == points.count } ?? true, "ScatterPlot: labels and points differ in count")
        let frame = frame(points: points, labels: labels, labelNames: labelNames, width: width, height: height)
        var image = RasterImage(width: width, height: height, channels: 3, background: 255)
        let black: [UInt8] = [0, 0, 0]

        for (i, point) in points.enumerated() where point.x.isFinite && point.y.isFinite {
            let p = frame.pixel(for: point)
            image.fillRect(x: p.x - 1, y: p.y - 1, width: 3, height: 3, color: color(forLabel: labels?[i] ?? 0))
        }

        // Box around the plot area, drawn after the points so markers never hide it.
        image.strokeRect(x: frame.left, y: frame.top, width: frame.right - frame.left + 1, height: frame.bottom - frame.top + 1, color: black)

        for tick in Axis.ticks(Double(frame.xMin), Double(frame.xMax)) {
            let px = frame.pixel(for: (Float(tick.value), frame.yMin)).x
            image.fillRect(x: px, y: frame.bottom + 1, width: 1, height: 4, color: black)
            BitmapFont.draw(tick.text, at: px - BitmapFont.width(of: tick.text) / 2, y: frame.bottom + 8, color: black, on: &image)
        }
        for tick in Axis.ticks(Double(frame.yMin), Double(frame.yMax)) {
            let py = frame.pixel(for: (frame.xMin, Float(tick.value))).y
            image.fillRect(x: frame.left - 4, y: py, width: 4, height: 1, color: black)
            BitmapFont.draw(tick.text, at: frame.left - 7 - BitmapFont.width(of: tick.text), y: py - 3, color: black, on: &image)
        }

        let entries = legendEntries(labels: labels, names: labelNames)
        if !entries.isEmpty {
            let size = legendSize(entries)
            let x0 = frame.right + 12, y0 = frame.top
            image.strokeRect(x: x0, y: y0, width: size.width, height: size.height, color: [160, 160, 160])
            for (row, entry) in entries.enumerated() {
                let y = y0 + 5 + row * 12
                image.fillRect(x: x0 + 5, y: y, width: 7, height: 7, color: color(forLabel: entry.label))
                BitmapFont.draw(entry.name, at: x0 + 16, y: y, color: black, on: &image)
            }
        }
        return image
    }

    /// One legend row per label present, in label order: its name, or its number when it has none.
    static func legendEntries(labels: [Int]?, names: [String]) -> [(label: Int, name: String)] {
        guard let labels else { return [] }
        return Set(labels).sorted().map { (label: $0, name: names.indices.contains($0) ? names[$0] : String($0)) }
    }

    private static func legendSize(_ entries: [(label: Int, name: String)]) -> (width: Int, height: Int) {
        let textWidth = entries.map { BitmapFont.width(of: $0.name) }.max() ?? 0
        return (16 + textWidth + 5, entries.count * 12 + 5)
    }
}
