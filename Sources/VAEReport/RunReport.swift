// RunReport: OUT/report.html, one self-contained page to open in a browser: the three loss terms as inline
// SVG curves (read back from metrics.jsonl), the newest sample images inlined as base64 PNGs, each epoch's
// throughput and the resolved config. Rank 0 rewrites it, atomically, at each sample point.

import Foundation
import VAEConfig
import VAESupport

struct RunReport {
    /// A PNG file of the newest sample directory, its bytes, and what it shows.
    struct Figure {
        let name: String
        let png: [UInt8]
        let caption: String
    }

    let config: TrainingConfig
    let stepsPerEpoch: Int

    /// Writes the page, showing `figures` from the sample directory `samples`.
    func write(samples: String, figures: [Figure]) throws {
        let out = config.output.directory
        let records = Self.readMetrics(out + "/metrics.jsonl")
        let epochs = records.filter { $0.kind == .epoch }, intervals = records.filter { $0.kind == .interval }
        func points(_ records: [MetricsRecord], _ value: KeyPath<MetricsRecord, Double>) -> [(x: Double, y: Double)] {
            records.filter { $0[keyPath: value].isFinite }.map { (Double($0.step) / Double(stepsPerEpoch), $0[keyPath: value]) }
        }
        let charts = [(\MetricsRecord.loss, "loss"), (\.reconstruction, "reconstruction"), (\.kl, "KL divergence")].map { value, title in
            SVGChart(title: title, intervals: points(intervals, value), epochs: points(epochs, value)).svg
        }
        var inlined = ""
        for figure in figures {
            inlined += "<figure><img src=\"data:image/png;base64,\(Data(figure.png).base64EncodedString())\" alt=\"\(figure.name)\">"
                + "<figcaption>\(figure.name): \(figure.caption)</figcaption></figure>\n"
        }
        let earlier = ((try? FileManager.default.contentsOfDirectory(atPath: out + "/samples")) ?? []).filter { $0.hasPrefix("epoch-") }.sorted()
            .map { "<a href=\"samples/\($0)/prior.png\">\($0)</a>" }.joined(separator: " ")
        let configYAML = config.yaml
        let last = epochs.last
        let html = """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>VAE: \(Self.escape(out))</title>
            <style>body{font-family:sans-serif;margin:2em;max-width:1400px}figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}
            img{image-rendering:pixelated}figcaption{font-size:small;max-width:420px}svg{margin-right:1em}
            table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right}pre{background:#f4f4f4;padding:1em}</style></head>
            <body><h1>VAE training: \(Self.escape(out))</h1>
            <p>Epoch \(last.map { "\($0.epoch)" } ?? "–") of \(config.training.epochs) done, step \(last.map { "\($0.step)" } ?? "–") \
            (\(stepsPerEpoch) per epoch); \(Self.number(last?.imagesPerSecond, "%.0f")) images/s in the last epoch. Updated \(Date()).</p>
            <h2>Loss per image</h2>
            <p>Light: mean over each log interval; dark: the epoch's mean.</p>
            \(charts.joined(separator: "\n"))
            <h2>Samples: \(Self.escape((samples as NSString).lastPathComponent))</h2>
            \(inlined)<p>Every sample point (prior samples): \(earlier)</p>
            <h2>Throughput</h2>
            <table><tr><th>epoch</th><th>loss</th><th>reconstruction</th><th>KL</th><th>images/s</th><th>allreduce ms/step</th><th>seconds</th></tr>
            \(epochs.map(Self.row).joined(separator: "\n"))</table>
            <h2>Config</h2>
            <pre>\(Self.escape(configYAML))</pre>
            </body></html>

            """
        try DurableFiles.write(Array(html.utf8), to: out + "/report.html")
    }

    /// Every record of metrics.jsonl that decodes (a line being written may not yet).
    static func readMetrics(_ path: String) -> [MetricsRecord] {
        guard let bytes = try? DurableFiles.read(path) else { return [] }
        return bytes.split(separator: UInt8(ascii: "\n")).compactMap { try? JSON.decode(MetricsRecord.self, from: Data($0)) }
    }

    static func row(_ epoch: MetricsRecord) -> String {
        let cells = ["\(epoch.epoch)", number(epoch.loss, "%.3f"), number(epoch.reconstruction, "%.3f"), number(epoch.kl, "%.3f"),
                     number(epoch.imagesPerSecond, "%.0f"), number(epoch.allreduceMilliseconds, "%.3f"), number(epoch.epochSeconds, "%.1f")]
        return "<tr>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>"
    }

    /// `value` in `format`, or a dash when there is none or it is not finite.
    static func number(_ value: Double?, _ format: String) -> String {
        value.flatMap { $0.isFinite ? String(format: format, $0) : nil } ?? "–"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
