// Where a cache file keeps its header, statuses and pixels (ImageCache.swift describes the format), and the
// progress line while one is built.

import Foundation
import VAESupport

extension ImageCache {
    struct Layout {
        let count, height, width, channels: Int

        init(count: Int, imageShape: [Int]) {
            self.count = count
            (height, width, channels) = (imageShape[0], imageShape[1], imageShape[2])
        }

        var imageBytes: Int { height * width * channels }
        /// Pixels start on a page, after the statuses.
        var pixelOffset: Int { (headerBytes + count + 4095) / 4096 * 4096 }
        var fileBytes: Int { pixelOffset + count * imageBytes }

        var header: [UInt8] {
            var bytes = magic
            for value in [count, height, width, channels, pixelOffset] { withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 } }
            return bytes + [UInt8](repeating: 0, count: headerBytes - bytes.count)
        }

        /// A new file of the full size, all statuses unwritten, replacing any left by a build that died.
        func create(_ path: String) throws {
            let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw VAEError("\(path): cannot create the cache (\(String(cString: strerror(errno))))") }
            defer { close(fd) }
            guard ftruncate(fd, off_t(fileBytes)) == 0 else {
                throw VAEError("\(path): cannot make the cache \(fileBytes) bytes long (\(String(cString: strerror(errno))))")
            }
            try write(header, at: 0, fd: fd, path: path)
        }

        func write(_ pixels: [UInt8], index: Int, fd: Int32, path: String) throws {
            try write(pixels, at: pixelOffset + index * imageBytes, fd: fd, path: path)
        }

        func write(status: Status, index: Int, fd: Int32, path: String) throws {
            try write([status.rawValue], at: headerBytes + index, fd: fd, path: path)
        }

        private func write(_ bytes: [UInt8], at offset: Int, fd: Int32, path: String) throws {
            let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard written == bytes.count else {
                let reason = written < 0 ? String(cString: strerror(errno)) : "short write"
                throw VAEError("\(path): cannot write the cache (\(reason)); is data.cache_dir's disk full?")
            }
        }

        /// Throws unless `bytes` is a finished cache of this layout.
        func check(_ bytes: ImageBytes, path: String) throws {
            guard bytes.count == fileBytes, Array(UnsafeBufferPointer(start: bytes.base, count: headerBytes)) == header else {
                throw VAEError("\(path): not a cache of \(count) images of \(height)×\(width)×\(channels); delete it to rebuild it")
            }
            let statuses = UnsafeBufferPointer(start: bytes.base + headerBytes, count: count)
            guard !statuses.contains(Status.unwritten.rawValue) else {
                throw VAEError("\(path): an unfinished cache (a build was interrupted); delete it to rebuild it")
            }
        }

        func status(_ bytes: ImageBytes, index: Int) -> Status { Status(rawValue: bytes.base[headerBytes + index]) ?? .unwritten }
    }

    /// A line every few seconds while this rank decodes: files/s over the node, and the time left.
    final class ProgressReporter: @unchecked Sendable {
        let total, parts, share: Int
        let start: ContinuousClock.Instant
        let report: (String) -> Void
        private var last: ContinuousClock.Instant

        init(total: Int, parts: Int, share: Int, start: ContinuousClock.Instant, report: @escaping (String) -> Void) {
            (self.total, self.parts, self.share, self.start, self.report, last) = (total, parts, share, start, report, start)
        }

        /// Called by one thread only.
        func maybeReport(done: Int) {
            guard last.secondsElapsed >= 5 else { return }
            last = .now
            let rate = Double(done * parts) / start.secondsElapsed
            let left = Double(share - done) / max(Double(done), 1) * start.secondsElapsed
            report("  decoding \(total) images into the cache: \(done * parts)/\(total), \(Int(rate)) files/s, about \(Int(left.rounded(.up))) s left")
        }

        func finish(done: Int) {
            let seconds = start.secondsElapsed
            report("decoded \(total) images into the cache in \(String(format: "%.1f", seconds)) s, \(Int(Double(done * parts) / max(seconds, 1e-9))) files/s")
        }
    }
}
