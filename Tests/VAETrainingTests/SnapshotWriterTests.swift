// Rank 0's writer thread: a save returns as soon as its copy is taken, the write that follows sees the weights
// as they were at the save, the next save waits for the one in flight, and a failed write is thrown at the
// loop's next look.

import Foundation
import Synchronization
import TestSupport
import Testing
import VAEMath
import VAESupport
@testable import VAETraining

@Suite struct SnapshotWriterTests {
    let model = VariationalAutoencoder(tinyRGBModel, seed: 1)
    let optimizer = Adam(parameterCount: VariationalAutoencoder(tinyRGBModel, seed: 1).parameters.count)

    /// What the writes saw: each job, the shadow's first weight and Adam's step.
    final class Written: Sendable {
        let records = Mutex<[(job: Int, weight: Float, step: Int)]>([])
    }

    /// A writer whose every write takes `seconds` and records what it saw in `written`.
    func slowWriter(seconds: Double, written: Written) throws -> SnapshotWriter<Int> {
        try SnapshotWriter(model: model, average: nil, copies: .everything, convolutionBackend: .default, timeline: nil, row: .checkpoint) { shadow, optimizer, _ in
            { job, say, progress in
                progress("job \(job)")
                Thread.sleep(forTimeInterval: seconds)
                written.records.withLock { $0.append((job, shadow.parameters.values[0], optimizer!.step)) }
                say("wrote \(job)")
            }
        }
    }

    @Test func aSaveReturnsAtOnceAndWritesTheWeightsOfItsStepWhileTheNextWaitsForIt() throws {
        let written = Written()
        let writer = try slowWriter(seconds: 0.5, written: written)
        let first = model.parameters.values[0]
        optimizer.step = 7
        let started = ContinuousClock.now
        #expect(try writer.save(1, model: model, optimizer: optimizer, average: nil) < Duration.milliseconds(100))
        #expect(started.secondsElapsed < 0.1, "the save waited for its write")
        #expect(writer.activity != nil, "busy as soon as the save is handed over")
        // Training goes on: the write in flight keeps the weights and Adam's step of its own save.
        model.parameters.values[0] += 1
        optimizer.step = 8
        #expect(try writer.save(2, model: model, optimizer: optimizer, average: nil) > Duration.milliseconds(300), "one save in flight at a time")
        #expect(try writer.finish() == ["wrote 1", "wrote 2"])
        #expect(writer.activity == nil)
        let records = written.records.withLock { $0 }
        #expect(records.map(\.job) == [1, 2] && records.map(\.step) == [7, 8])
        #expect(records.map(\.weight) == [first, first + 1])
        #expect(try writer.finish().isEmpty, "finishing again only collects")
    }

    @Test func aFailedWriteIsThrownAtTheNextLookAndAtTheNextSave() throws {
        let writer = try SnapshotWriter<Int>(model: model, average: nil, copies: .shownWeights, convolutionBackend: .default, timeline: nil, row: .samples) { _, _, _ in
            { job, _, _ in throw VAEError("disk full at job \(job)") }
        }
        _ = try writer.save(1, model: model, optimizer: optimizer, average: nil)
        let deadline = ContinuousClock.now + .seconds(10)
        while (try? writer.collect()) != nil, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(throws: VAEError("disk full at job 1")) { try writer.collect() }
        #expect(throws: VAEError("disk full at job 1")) { try writer.save(2, model: model, optimizer: optimizer, average: nil) }
        #expect(throws: VAEError("disk full at job 1")) { try writer.finish() }
    }
}
