// The linear learning-rate scaling rule (Goyal et al. 2017) under a real `mpirun`: a global batch 4 times the
// book's, trained at 4 times its learning rate after a linear warm-up (learning_rate.warmup_steps), ends the same
// number of epochs at the loss of the book's batch-32 run. Oversubscribed on a small machine: correctness,
// not speed. docs/distributed.md (the linear scaling rule) has the figures and the runs without the rule.

import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct LinearScalingTests {
    /// The digits model on the first 4,096 images for 4 epochs; no pictures, one checkpoint at the end.
    let shortRun = ["--set", "data.limit=4096", "--set", "training.epochs=4", "--set", "training.log_every_steps=0",
                    "--set", "samples.every_epochs=0", "--set", "checkpoint.every_epochs=0"]

    /// The epoch losses of a run of `shortRun` with `settings` on `ranks` ranks.
    func train(ranks: Int, _ settings: [String]) throws -> [Double] {
        let out = temporaryDirectory().path
        let outcome = try mpirunTrain(ranks: ranks, shortRun + settings + ["--out", out], limitSeconds: 600)
        #expect(outcome.status == 0, "\(ranks) ranks: \(outcome.stderr)")
        return try epochLosses(in: out)
    }

    /// Measured: the last epoch's loss is 45.61 at batch 32, 46.70 at batch 128 (2.4% above); at batch 128
    /// without the rule (lr 0.0005) it is 54.12 (18.6% above), so 5% leaves room and still tells them apart.
    @Test func batch128WithScaledRateAndWarmUpReachesTheBatch32Loss() throws {
        let book = try train(ranks: 2, ["--set", "training.batch_size=32", "--set", "learning_rate.base=0.0005"])
        let scaled = try train(ranks: 4, ["--set", "training.batch_size=128", "--set", "learning_rate.base=0.002",
                                          "--set", "learning_rate.warmup_steps=8"])
        #expect(book.count == 4 && scaled.count == 4)
        let margin = 0.05
        #expect(abs(scaled.last! - book.last!) <= margin * book.last!,
                "batch 128 at lr 0.002 with warm-up ends at loss \(scaled.last!), batch 32 at lr 0.0005 at \(book.last!): more than \(margin * 100)% apart")
    }
}
