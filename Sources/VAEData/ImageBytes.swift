// ImageBytes: the pixels of a data set, one byte per channel: copied into memory (an IDX file) or a read-only
// mapping of a cache file, which the kernel pages in and out, so a process's own memory does not grow with
// the data set.

import Foundation
import VAESupport

public final class ImageBytes: @unchecked Sendable {
    public let base: UnsafePointer<UInt8>
    public let count: Int
    private let release: () -> Void

    public init(_ bytes: [UInt8]) {
        let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        copy.initialize(from: bytes, count: bytes.count)
        base = UnsafePointer(copy)
        count = bytes.count
        release = { copy.deallocate() }
    }

    /// Maps `path` read-only; `base` is the file's first byte.
    public init(mapping path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VAEError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { throw VAEError("\(path): cannot read the file's size, or it is empty") }
        let length = Int(info.st_size)
        guard let mapped = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw VAEError("\(path): cannot map the file (\(String(cString: strerror(errno))))")
        }
        base = UnsafePointer(mapped.assumingMemoryBound(to: UInt8.self))
        count = length
        release = { munmap(mapped, length) }
    }

    deinit { release() }
}
