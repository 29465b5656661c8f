// Timeline: what each rank did when, for `vae train --trace FILE`, as Chrome trace events (Perfetto,
// chrome://tracing): gathering each micro-batch, each layer's forward and backward pass, each bucket's
// allreduce from its start to its sum (on a row of its own: it overlaps the backward pass), the waits for
// the sums, Adam, and rank 0's snapshots, and its checkpoints and pictures on rows of their own (each is
// written by a thread of its own, SnapshotWriter). Horovod's timeline, for this loop. Each rank times
// from a barrier the ranks leave together; at the end rank 0 gathers every rank's events and writes the file.
// Step-level events are kept for the first `detailedSteps` steps only, since a trace of a long run would
// not load; checkpoints and pictures always.

import Foundation
import Synchronization
import VAECommunication
import VAESupport

public final class Timeline: Sendable {
    /// A process's rows ("threads" in the viewer).
    enum Row: Int, CaseIterable {
        /// The checkpoint and samples rows are rank 0's writer threads.
        case compute = 0, allreduce = 1, checkpoint = 2, samples = 3
    }

    private struct Event: Sendable {
        let name: Int32
        let row: Row
        let startMicroseconds, durationMicroseconds: Int64
    }

    let detailedSteps: Int
    private let origin: ContinuousClock.Instant
    /// Recorded by the loop and by rank 0's writer thread.
    private let recorded = Mutex<(names: [String], indexOfName: [String: Int32], events: [Event])>(([], [:], []))

    /// Call on every rank at once: the barrier makes the ranks' zero the same moment, within its latency.
    init(detailedSteps: Int, communicator: Communicator) throws {
        self.detailedSteps = detailedSteps
        try communicator.barrier()
        origin = .now
    }

    func record(_ name: String, row: Row = .compute, from start: ContinuousClock.Instant, to end: ContinuousClock.Instant = .now) {
        let event = (start: microseconds(origin, start), duration: microseconds(start, end))
        recorded.withLock { r in
            let index = r.indexOfName[name] ?? {
                r.names.append(name)
                r.indexOfName[name] = Int32(r.names.count - 1)
                return Int32(r.names.count - 1)
            }()
            r.events.append(Event(name: index, row: row, startMicroseconds: event.start, durationMicroseconds: event.duration))
        }
    }

    func span<T>(_ name: String, row: Row = .compute, _ body: () throws -> T) rethrows -> T {
        let start = ContinuousClock.now
        defer { record(name, row: row, from: start) }
        return try body()
    }

    private func microseconds(_ from: ContinuousClock.Instant, _ to: ContinuousClock.Instant) -> Int64 {
        let d = from.duration(to: to).components
        return d.seconds * 1_000_000 + d.attoseconds / 1_000_000_000_000
    }

    /// This rank's events as trace-event objects, each followed by a comma.
    private func json(rank: Int) -> [UInt8] {
        var text = "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":\(rank),\"args\":{\"name\":\"rank \(rank)\"}},"
        for row in Row.allCases {
            text += "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":\(rank),\"tid\":\(row.rawValue),\"args\":{\"name\":\"\(row)\"}},"
        }
        let (names, events) = recorded.withLock { ($0.names, $0.events) }
        let quoted = names.map { (try? JSON.line($0)) ?? "\"?\"" }
        for event in events {
            text += "{\"name\":\(quoted[Int(event.name)]),\"ph\":\"X\",\"pid\":\(rank),\"tid\":\(event.row.rawValue),"
                + "\"ts\":\(event.startMicroseconds),\"dur\":\(event.durationMicroseconds)},"
        }
        return Array(text.utf8)
    }

    /// Every rank calls this; rank 0 writes every rank's events to `path`.
    func write(to path: String, communicator: Communicator) throws {
        let mine = json(rank: communicator.rank)
        let lengths = try communicator.allgather(withUnsafeBytes(of: Int64(mine.count)) { Array($0) }).map { bytes in
            bytes.withUnsafeBytes { Int($0.loadUnaligned(as: Int64.self)) }
        }
        let longest = lengths.max() ?? 0
        let everyRank = try communicator.allgather(mine + [UInt8](repeating: 0, count: longest - mine.count))
        guard communicator.rank == 0 else { return }
        var file = Array("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[".utf8)
        for (rank, events) in everyRank.enumerated() { file += events.prefix(lengths[rank]) }
        if file.last == UInt8(ascii: ",") { file.removeLast() }
        file += Array("]}\n".utf8)
        try DurableFiles.write(file, to: path)
    }
}

extension Optional where Wrapped == Timeline {
    /// `body`, recorded when there is a timeline; the name is built only then, not in every untraced step.
    func span<T>(_ name: @autoclosure () -> String, row: Timeline.Row = .compute, _ body: () throws -> T) rethrows -> T {
        guard let self else { return try body() }
        return try self.span(name(), row: row, body)
    }
}
