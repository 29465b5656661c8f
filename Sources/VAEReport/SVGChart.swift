// SVGChart: one loss curve as inline SVG for report.html: the per-interval means as a light line, the
// per-epoch means as a dark line with dots, x in epochs; the y range padded and both axes ticked by Axis.

import Foundation

struct SVGChart {
    let title: String
    let intervals: [(x: Double, y: Double)]
    let epochs: [(x: Double, y: Double)]

    static let width = 440.0, height = 240.0
    static let left = 56.0, right = 12.0, top = 26.0, bottom = 34.0

    var svg: String {
        let all = intervals + epochs
        guard !all.isEmpty else { return "<p>\(title): no data yet</p>" }
        let (w, h) = (Self.width, Self.height)
        let xMax = max(all.map(\.x).max()!, 1e-9)
        let (yMin, yMax) = Axis.paddedRange(all.map(\.y))
        func px(_ x: Double) -> Double { Self.left + x / xMax * (w - Self.left - Self.right) }
        func py(_ y: Double) -> Double { h - Self.bottom - (y - yMin) / (yMax - yMin) * (h - Self.top - Self.bottom) }
        func f(_ value: Double) -> String { String(format: "%.1f", value) }
        func coordinates(_ points: [(x: Double, y: Double)]) -> String { points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ") }
        let (plotRight, plotBottom) = (w - Self.right, h - Self.bottom)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"11\">"
        svg += "<text x=\"\(f(w / 2))\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">\(title)</text>"
        svg += "<rect x=\"\(f(Self.left))\" y=\"\(f(Self.top))\" width=\"\(f(plotRight - Self.left))\" height=\"\(f(plotBottom - Self.top))\" fill=\"none\" stroke=\"#000\"/>"
        for tick in Axis.ticks(0, xMax) {
            let x = f(px(tick.value))
            svg += "<line x1=\"\(x)\" x2=\"\(x)\" y1=\"\(f(plotBottom))\" y2=\"\(f(plotBottom + 4))\" stroke=\"#000\"/>"
            svg += "<text x=\"\(x)\" y=\"\(f(plotBottom + 15))\" text-anchor=\"middle\">\(tick.text)</text>"
        }
        for tick in Axis.ticks(yMin, yMax) {
            let y = py(tick.value)
            svg += "<line x1=\"\(f(Self.left - 4))\" x2=\"\(f(Self.left))\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"#000\"/>"
            svg += "<text x=\"\(f(Self.left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(tick.text)</text>"
        }
        svg += "<text x=\"\(f((Self.left + plotRight) / 2))\" y=\"\(f(h - 4))\" text-anchor=\"middle\">epoch</text>"
        if intervals.count > 1 { svg += "<polyline fill=\"none\" stroke=\"#9ecae1\" points=\"\(coordinates(intervals))\"/>" }
        if epochs.count > 1 { svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"\(coordinates(epochs))\"/>" }
        for point in epochs { svg += "<circle cx=\"\(f(px(point.x)))\" cy=\"\(f(py(point.y)))\" r=\"2.5\" fill=\"#1f77b4\"/>" }
        return svg + "</svg>"
    }
}
