// IDX files, the MNIST family's format, gzipped or raw (zlib's gzread reads both):
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
        let raw = try Self.readDecompressed(path)
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
        let expected = dimensions.reduce(1, *)
        let found = raw.count - headerLength
        if found < expected {
            throw VAEError("\(path): truncated: the header promises \(expected) bytes of data for \(dimensions), found \(found)")
        }
        if found > expected {
            throw VAEError("\(path): \(found - expected) bytes after the data the header describes (\(dimensions)); not a valid IDX file")
        }
        self.dimensions = dimensions
        self.bytes = Array(raw[headerLength...])
    }

    /// The file's bytes, inflated if it is gzipped.
    static func readDecompressed(_ path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw VAEError("\(path): no such data file") }
        guard let file = gzopen(path, "rb") else {
            throw VAEError("\(path): cannot open: \(String(cString: strerror(errno)))")
        }
        defer { gzclose(file) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 {
                var code: Int32 = 0
                let message = String(cString: gzerror(file, &code))
                throw VAEError("\(path): corrupt or unreadable gzip data (\(message))")
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<Int(n)])
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
