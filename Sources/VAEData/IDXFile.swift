// IDX files, the MNIST family's format, gzipped (told by the gzip magic number, 1F 8B) or raw:
//   bytes 0–1 zero, byte 2 the element type (0x08: unsigned byte, the only one images use),
//   byte 3 the number of dimensions, then each dimension as a big-endian UInt32, then the data.
// Every way a file can be wrong is a VAEError naming the file.

import CZlib
import Foundation
import VAESupport

public struct IDXFile: Equatable {
    public let dimensions: [Int]
    public let bytes: [UInt8]

    public static let unsignedByteType: UInt8 = 0x08

    public init(dimensions: [Int], bytes: [UInt8]) {
        self.dimensions = dimensions
        self.bytes = bytes
    }

    public init(contentsOf path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw VAEError("\(path): no such data file") }
        try self.init(fileBytes: DurableFiles.read(path), source: path)
    }

    /// Parses the bytes of an IDX file, gzipped or raw; `source` (usually a path) begins every error message.
    public init(fileBytes: [UInt8], source path: String) throws {
        let raw = try Self.gunzipped(fileBytes, source: path)
        guard raw.count >= 4 else { throw VAEError("\(path): not an IDX file (\(raw.count) bytes, shorter than the 4-byte magic number)") }
        guard raw[0] == 0, raw[1] == 0 else {
            throw VAEError("\(path): not an IDX file (magic number starts \(Self.hex(raw[0])) \(Self.hex(raw[1])), expected 00 00)")
        }
        guard raw[2] == Self.unsignedByteType else {
            throw VAEError("\(path): IDX element type \(Self.hex(raw[2])) is not supported (only unsigned bytes, 08)")
        }
        let rank = Int(raw[3])
        guard (1...4).contains(rank) else { throw VAEError("\(path): IDX file with \(rank) dimensions (expected 1 to 4)") }
        let headerLength = 4 + 4 * rank
        guard raw.count >= headerLength else {
            throw VAEError("\(path): truncated IDX header (\(raw.count) bytes, \(headerLength) needed for \(rank) dimensions)")
        }
        var dimensions: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            dimensions.append(Int(raw[o]) << 24 | Int(raw[o + 1]) << 16 | Int(raw[o + 2]) << 8 | Int(raw[o + 3]))
        }
        guard dimensions.allSatisfy({ $0 > 0 }) else { throw VAEError("\(path): IDX dimensions \(dimensions) include zero") }
        let found = raw.count - headerLength
        // Four 32-bit dimensions can multiply past Int.max; any product beyond the data is a truncated file.
        let expected = dimensions.reduce(1) { product, dimension in
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            return overflow ? Int.max : next
        }
        if found < expected {
            throw VAEError("\(path): truncated: the header promises \(expected) bytes of data for \(dimensions), found \(found)")
        }
        if found > expected {
            throw VAEError("\(path): \(found - expected) bytes after the data the header describes (\(dimensions)); not a valid IDX file")
        }
        self.dimensions = dimensions
        self.bytes = Array(raw[headerLength...])
    }

    /// `bytes` inflated if they start with the gzip magic number (every member, as gunzip reads them), else as they are.
    static func gunzipped(_ bytes: [UInt8], source path: String) throws -> [UInt8] {
        guard bytes.starts(with: [0x1F, 0x8B]) else { return bytes }
        var stream = z_stream()
        // 16 + 15: a gzip wrapper around a deflate stream with zlib's largest window.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw VAEError("\(path): cannot start zlib's inflate")
        }
        defer { inflateEnd(&stream) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var input = bytes
        try input.withUnsafeMutableBufferPointer { input in
            stream.next_in = input.baseAddress
            stream.avail_in = UInt32(input.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                result.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
                switch status {
                case Z_OK: continue
                case Z_STREAM_END where stream.avail_in == 0: return
                case Z_STREAM_END:
                    // Another gzip member follows, as `cat a.gz b.gz` makes; anything else is not gzip data.
                    guard stream.avail_in >= 2, stream.next_in[0] == 0x1F, stream.next_in[1] == 0x8B else {
                        throw VAEError("\(path): \(stream.avail_in) bytes after the end of the gzip data")
                    }
                    inflateReset(&stream)
                case Z_BUF_ERROR where stream.avail_in == 0:
                    throw VAEError("\(path): corrupt or unreadable gzip data (truncated: it ends inside the compressed stream)")
                default:
                    let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw VAEError("\(path): corrupt or unreadable gzip data (\(reason))")
                }
            }
        }
        return result
    }

    /// Serializes to the IDX format (raw, not gzipped): tests and tools write small files with it.
    public var encoded: [UInt8] {
        var out: [UInt8] = [0, 0, Self.unsignedByteType, UInt8(dimensions.count)]
        for d in dimensions { out += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        return out + bytes
    }

    private static func hex(_ byte: UInt8) -> String { String(format: "%02X", byte) }
}
