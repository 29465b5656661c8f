// `vae train --trace FILE` under a real `mpirun`: one Chrome trace-event file holding both ranks' timelines,
// layer by layer for the steps asked, with each bucket's allreduce on a row of its own, the waits, the update,
// and the checkpoint and pictures.

import Foundation
import TestSupport
import Testing

@Suite struct TraceTests {
    @Test func aTwoRankTraceHoldsEveryRanksStepsBucketsAndFiles() throws {
        let out = temporaryDirectory().path, trace = out + "/trace.json"
        let outcome = try mpirunTrain(ranks: 2, ["--set", "data.limit=320", "--set", "training.epochs=1", "--out", out,
                                                 "--trace", trace, "--trace-steps", "2"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("trace \(trace)"))
        let file = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: trace))) as! [String: Any]
        let events = try #require(file["traceEvents"] as? [[String: Any]])
        for rank in [0, 1] {
            let names = Set(events.filter { $0["pid"] as? Int == rank && $0["ph"] as? String == "X" }.compactMap { $0["name"] as? String })
            for expected in ["step 1", "step 2", "gather", "encoder.0 Conv2D forward", "encoder.0 Conv2D backward", "mu Dense backward",
                             "wait for bucket 0", "update"] {
                #expect(names.contains(expected), "rank \(rank) has no \"\(expected)\" event")
            }
            #expect(!names.contains("step 3"), "rank \(rank) traced past --trace-steps")
            #expect(names.contains { $0.hasPrefix("allreduce bucket 0 (") })
        }
        let rankZero = Set(events.filter { $0["pid"] as? Int == 0 }.compactMap { $0["name"] as? String })
        #expect(rankZero.isSuperset(of: ["snapshot", "checkpoint", "samples"]))
        // Every complete event has a start and a length in microseconds, none before the ranks' common zero.
        for event in events where event["ph"] as? String == "X" {
            #expect((event["ts"] as? Int ?? -1) >= 0 && (event["dur"] as? Int ?? -1) >= 0, "\(event)")
        }
    }
}
