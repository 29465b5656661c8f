// ImageCache: a folder's images decoded once, resized to the model's input, into one file of bytes that every
// later run maps instead of decoding again. Its name carries a hash of the file list (names, sizes,
// modification times), the image shape and the resize mode, so any change makes a new one. Layout:
//   bytes 0..<64   "VAEIMGC1", then count, height, width, channels, pixelOffset as little-endian Int64s
//   64..<64+count  a status per image: 1 decoded, 2 undecodable (0: never written, an unfinished cache)
//   pixelOffset…   count images of height×width×channels bytes
// The ranks of one node build it together, each decoding a contiguous part with a thread per core it owns,
// into a file named for the host; the node's first rank renames it into place once every part is written.
// Nodes without a shared file system each build their own (data.cache_dir is node-local by default).

import Dispatch
import Foundation
import Synchronization
import VAESupport

/// How this process takes part in building a cache: its part of the node's work, a barrier over every rank
/// (every rank calls it the same number of times, whether or not its node builds), and where progress goes.
public struct CacheBuild {
    public var part: Int
    public var parts: Int
    public var barrier: () throws -> Void
    public var progress: ((String) -> Void)?

    public init(part: Int = 0, parts: Int = 1, barrier: @escaping () throws -> Void = {}, progress: ((String) -> Void)? = nil) {
        self.part = part
        self.parts = parts
        self.barrier = barrier
        self.progress = progress
    }
}

enum ImageCache {
    enum Status: UInt8 { case unwritten = 0, decoded = 1, undecodable = 2 }

    static let magic = Array("VAEIMGC1".utf8)
    static let headerBytes = 64

    /// The cache of `folder` at `imageShape` ([height, width, channels]), built first if need be.
    static func open(_ folder: ImageFolder, imageShape: [Int], resize: Resize, directory: String,
                     build: CacheBuild) throws -> (bytes: ImageBytes, pixelOffset: Int) {
        let key = folder.cacheKey(imageShape: imageShape, resize: resize.rawValue)
        let stem = ((folder.path as NSString).standardizingPath as NSString).lastPathComponent
        let path = directory + "/" + stem + "-" + key.prefix(16) + ".images"
        let building = path + ".building-" + hostName()
        let layout = Layout(count: folder.files.count, imageShape: imageShape)

        // 1. The node's first rank starts a file for the node, unless the cache is there.
        if build.part == 0 && !FileManager.default.fileExists(atPath: path) {
            try createDirectory(directory)
            try layout.create(building)
        }
        try build.barrier()
        // 2. Every rank of a node that builds decodes its part.
        if FileManager.default.fileExists(atPath: building) {
            try decode(folder, into: building, layout: layout, resize: resize, build: build)
        }
        try build.barrier()
        // 3. The first rank puts it in place.
        if build.part == 0 && FileManager.default.fileExists(atPath: building) {
            guard rename(building, path) == 0 else {
                throw VAEError("\(building): cannot rename it to \(path) (\(String(cString: strerror(errno))))")
            }
            try DurableFiles.syncDirectory(directory)
        }
        try build.barrier()
        let bytes = try ImageBytes(mapping: path)
        try layout.check(bytes, path: path)
        return (bytes, layout.pixelOffset)
    }

    /// gethostname's answer: Foundation's hostName also asks the resolver, which may wait for the network.
    private static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        return gethostname(&name, name.count - 1) == 0 ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
    }

    private static func createDirectory(_ directory: String) throws {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw VAEError("data.cache_dir: cannot create \(directory) (\(error.localizedDescription))")
        }
    }

    /// Decodes this rank's contiguous part of the files, a thread per core the node's ranks do not share.
    private static func decode(_ folder: ImageFolder, into path: String, layout: Layout, resize: Resize,
                               build: CacheBuild) throws {
        let fd = Foundation.open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VAEError("\(path): cannot open the cache being built (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        let total = layout.count
        let part = (total * build.part / build.parts)..<(total * (build.part + 1) / build.parts)
        let threads = max(1, min(ProcessInfo.processInfo.activeProcessorCount / build.parts, part.count))
        let done = Atomic<Int>(0), failure = Mutex<VAEError?>(nil)
        let start = ContinuousClock.now
        let reporter = build.progress.map { ProgressReporter(total: total, parts: build.parts, share: part.count, start: start, report: $0) }
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for index in stride(from: part.lowerBound + thread, to: part.upperBound, by: threads) {
                if failure.withLock({ $0 != nil }) { return }
                let image = try? ImageDecoder.decode(contentsOf: folder.path(of: index), channels: layout.channels)
                    .resized(height: layout.height, width: layout.width, mode: resize)
                do {
                    if let image { try layout.write(image.pixels, index: index, fd: fd, path: path) }
                    try layout.write(status: image == nil ? .undecodable : .decoded, index: index, fd: fd, path: path)
                } catch {
                    failure.withLock { $0 = $0 ?? (error as? VAEError ?? VAEError("\(path): \(error)")) }
                }
                let finished = done.add(1, ordering: .relaxed).newValue
                if thread == 0 { reporter?.maybeReport(done: finished) }
            }
        }
        // A cache that cannot be finished (a full disk, say) is removed rather than left half written.
        if let error = failure.withLock({ $0 }) {
            unlink(path)
            throw error
        }
        guard fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw VAEError("\(path): cannot write the cache (\(reason))")
        }
        reporter?.finish(done: done.load(ordering: .relaxed))
    }
}
