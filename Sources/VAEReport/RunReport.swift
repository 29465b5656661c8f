// RunReport: OUT/report.html, one self-contained page to open in a browser: the three loss terms as inline
// SVG curves (read back from metrics.jsonl), the newest sample images inlined as base64 PNGs, each epoch's
// throughput and the resolved config. Rank 0 rewrites it, atomically, at each sample point.

import Foundation
import VAEConfig
import VAESupport

struct RunReport {
    let config: TrainingConfig
    let stepsPerEpoch: Int

    static let captions = [
        "prior.png": "decodings of fixed points z ~ N(0, I)",
        "reconstructions.png": "test images (top) and their reconstructions (below)",
        "latent.png": "encoder means of the first \(SampleWriter.scatterCount) test images, coloured by label when there are labels",
        "manifold.png": "the decoder over the prior's quantiles 0.05…0.95 (z₁ across, z₂ up)",
    ]

    /// Writes the page, showing the images `names` of the sample directory `samples`.
    func write(samples: String, names: [String]) throws {
        let out = config.output.directory
        let records = Self.readMetrics(out + "/metrics.jsonl")
        let epochs = records.filter { $0["kind"] as? String == "epoch" }
        let intervals = records.filter { $0["kind"] as? String == "interval" }
        func points(_ records: [[String: Any]], _ key: String) -> [(x: Double, y: Double)] {
            records.compactMap { r in (r["step"] as? Double).flatMap { s in (r[key] as? Double).map { (s / Double(stepsPerEpoch), $0) } } }
        }
        let charts = [("loss", "loss"), ("reconstruction", "reconstruction"), ("kl", "KL divergence")].map { key, title in
            SVGChart(title: title, intervals: points(intervals, key), epochs: points(epochs, key)).svg
        }
        var figures = ""
        for name in names {
            let bytes = try DurableFiles.read(samples + "/" + name)
            figures += "<figure><img src=\"data:image/png;base64,\(Data(bytes).base64EncodedString())\" alt=\"\(name)\">"
                + "<figcaption>\(name): \(Self.captions[name] ?? "")</figcaption></figure>\n"
        }
        let earlier = ((try? FileManager.default.contentsOfDirectory(atPath: out + "/samples")) ?? []).filter { $0.hasPrefix("epoch-") }.sorted()
            .map { "<a href=\"samples/\($0)/prior.png\">\($0)</a>" }.joined(separator: " ")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase  // closer to the YAML's keys
        let configJSON = String(decoding: (try? encoder.encode(config)) ?? Data(), as: UTF8.self)
        let last = epochs.last
        let html = """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>VAE: \(Self.escape(out))</title>
            <style>body{font-family:sans-serif;margin:2em;max-width:1400px}figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}
            img{image-rendering:pixelated}figcaption{font-size:small;max-width:420px}svg{margin-right:1em}
            table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right}pre{background:#f4f4f4;padding:1em}</style></head>
            <body><h1>VAE training: \(Self.escape(out))</h1>
            <p>Epoch \(Self.number(last?["epoch"], "%.0f")) of \(config.training.epochs) done, step \(Self.number(last?["step"], "%.0f")) \
            (\(stepsPerEpoch) per epoch); \(Self.number(last?["images_per_s"], "%.0f")) images/s in the last epoch. Updated \(Date()).</p>
            <h2>Loss per image</h2>
            <p>Light: mean over each log interval; dark: the epoch's mean.</p>
            \(charts.joined(separator: "\n"))
            <h2>Samples: \(Self.escape((samples as NSString).lastPathComponent))</h2>
            \(figures)<p>Every sample point (prior samples): \(earlier)</p>
            <h2>Throughput</h2>
            <table><tr><th>epoch</th><th>loss</th><th>reconstruction</th><th>KL</th><th>images/s</th><th>allreduce ms/step</th><th>seconds</th></tr>
            \(epochs.map(Self.row).joined(separator: "\n"))</table>
            <h2>Config</h2>
            <pre>\(Self.escape(configJSON))</pre>
            </body></html>

            """
        try DurableFiles.write(Array(html.utf8), to: out + "/report.html")
    }

    /// Every line of metrics.jsonl that parses (a line being written may not yet).
    static func readMetrics(_ path: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func row(_ epoch: [String: Any]) -> String {
        let cells = [("epoch", "%.0f"), ("loss", "%.3f"), ("reconstruction", "%.3f"), ("kl", "%.3f"),
                     ("images_per_s", "%.0f"), ("allreduce_ms", "%.3f"), ("epoch_s", "%.1f")]
        return "<tr>" + cells.map { "<td>\(number(epoch[$0.0], $0.1))</td>" }.joined() + "</tr>"
    }

    static func number(_ value: Any?, _ format: String) -> String {
        (value as? Double).map { String(format: format, $0) } ?? "–"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
