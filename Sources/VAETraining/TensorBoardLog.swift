// TensorBoardLog: rank 0's OUT/tensorboard/events.out.tfevents.<time>.<host>, one file per run segment, for
// `tensorboard --logdir OUT` (Keras's TensorBoard callback and PyTorch's SummaryWriter write the same). Every
// number a metrics.jsonl record carries goes in as a scalar tagged `<kind>/<key>` ("interval/loss",
// "epoch/val_loss") at the record's step, and each sample picture as an image `samples/<name>` at its step.
// A resumed run starts its file with SessionLog START at its first step, so that TensorBoard drops what the
// interrupted segment logged past it. Events are appended as they come and not fsynced, as metrics.jsonl's
// lines are; one that cannot be written costs a warning, once.

import Foundation
import Synchronization
import VAESupport

public final class TensorBoardLog: Sendable {
    public let path: String
    private let fd: Int32
    /// Rank 0's log: called from the loop and from the pictures' thread, once.
    private nonisolated(unsafe) let warn: (String) -> Void
    private let warned = Mutex(false)
    private let writing = Mutex(())

    /// Opens a new event file in DIRECTORY (made if missing); `resumedAt` is the first step a resumed run records.
    public init(directory: String, resumedAt: Int?, warn: @escaping (String) -> Void) throws {
        do { try DurableFiles.createDirectory(directory) } catch let error as VAEError { throw VAEError("tensorboard.enabled: \(error.message)") }
        let now = Date().timeIntervalSince1970
        path = directory + "/events.out.tfevents.\(Int(now)).\(ProcessInfo.processInfo.hostName)"
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw VAEError("tensorboard.enabled: cannot create \(path): \(String(cString: strerror(errno)))") }
        self.warn = warn
        append(TensorBoardEvent.fileVersion(wallTime: now))
        if let resumedAt { append(TensorBoardEvent.sessionStart(step: resumedAt, wallTime: now)) }
    }

    deinit { close(fd) }

    /// Every number of a metrics record (its JSON line), tagged `<kind>/<key>`, at `step`.
    func scalars(of line: String, step: Int, kind: String) {
        guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return }
        let values = record.keys.sorted().compactMap { key -> (tag: String, value: Float)? in
            guard !["kind", "step", "epoch"].contains(key), let number = record[key] as? NSNumber else { return nil }
            return (kind + "/" + key, number.floatValue)
        }
        append(TensorBoardEvent.scalars(values, step: step, wallTime: Date().timeIntervalSince1970))
    }

    /// Every PNG file of a sample directory, as an image `samples/<name>` at `step`.
    func pictures(in directory: String, step: Int) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".png") }.sorted()
        for name in names {
            // The size and colour type from the IHDR chunk, which follows the 8-byte signature and the chunk's length and type.
            guard let png = try? DurableFiles.read(directory + "/" + name), png.count > 26 else { continue }
            let number = { (at: Int) in png[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
            let channels = png[25] == 2 ? 3 : 1
            append(TensorBoardEvent.image(tag: "samples/" + (name as NSString).deletingPathExtension, png: png, width: number(16),
                                          height: number(20), channels: channels, step: step, wallTime: Date().timeIntervalSince1970))
        }
    }

    private func append(_ event: [UInt8]) {
        let record = TensorBoardEvent.record(event)
        do { try writing.withLock { _ in try DurableFiles.append(record, fd: fd, path: path) } } catch {
            guard !warned.withLock({ warned in defer { warned = true }; return warned }) else { return }
            warn("warning: TensorBoard's events are not all recorded: \(error); training goes on")
        }
    }
}
