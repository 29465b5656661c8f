// PNG.swift
// Minimal PNG writer for training artefacts (reconstruction grids, samples,
// latent scatter plots). Only 8-bit greyscale and RGB are needed, so this
// writes a single unfiltered IDAT chunk and leans on zlib for deflate + CRC.

import CZlib
import VAESupport

/// Encodes 8-bit greyscale or RGB images as PNG files.
public enum PNG {
    /// The fixed 8-byte PNG file signature.
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Encodes row-major pixels as a complete PNG byte stream.
    ///
    /// - Parameters:
    ///   - width: Image width in pixels (> 0).
    ///   - height: Image height in pixels (> 0).
    ///   - channels: 1 (greyscale, colour type 0) or 3 (RGB, colour type 2).
    ///   - pixels: `height * width * channels` bytes, row-major, channels interleaved.
    /// - Returns: The PNG file contents (signature, IHDR, one IDAT, IEND).
    /// - Throws: `VAEError` if the dimensions are invalid or zlib fails.
    static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws -> [UInt8] {
        guard width > 0, height > 0, width <= Int(Int32.max), height <= Int(Int32.max) else {
            throw VAEError("PNG: invalid image size \(width)x\(height)")
        }
        let colourType: UInt8
        switch channels {
        case 1: colourType = 0
        case 3: colourType = 2
        default: throw VAEError("PNG: unsupported channel count \(channels) (expected 1 or 3)")
        }
        let rowBytes = width * channels
        guard pixels.count == rowBytes * height else {
            throw VAEError("PNG: expected \(rowBytes * height) pixel bytes for \(width)x\(height)x\(channels), got \(pixels.count)")
        }

        // Each scanline is prefixed by its filter type; 0 (None) keeps the encoder trivial.
        var raw = [UInt8]()
        raw.reserveCapacity((rowBytes + 1) * height)
        for row in 0..<height {
            raw.append(0)
            raw.append(contentsOf: pixels[(row * rowBytes)..<((row + 1) * rowBytes)])
        }

        var ihdr = [UInt8]()
        appendBigEndian(UInt32(width), to: &ihdr)
        appendBigEndian(UInt32(height), to: &ihdr)
        ihdr += [8, colourType, 0, 0, 0]  // bit depth, colour type, deflate, adaptive filtering, no interlace

        var out = signature
        appendChunk("IHDR", ihdr, to: &out)
        appendChunk("IDAT", try deflate(raw), to: &out)
        appendChunk("IEND", [], to: &out)
        return out
    }

    /// Writes `image` as a PNG file at `path`, atomically and durably (see `DurableFiles.write`).
    /// - Throws: `VAEError` naming the path if encoding or writing fails.
    public static func write(_ image: RasterImage, to path: String) throws {
        let bytes: [UInt8]
        do { bytes = try encode(image) } catch let error as VAEError { throw VAEError("\(path): \(error.message)") }
        try DurableFiles.write(bytes, to: path)
    }

    /// `image` as a PNG byte stream.
    static func encode(_ image: RasterImage) throws -> [UInt8] {
        try encode(width: image.width, height: image.height, channels: image.channels, pixels: image.pixels)
    }

    private static func appendBigEndian(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// Appends length, type, data and the CRC-32 of type+data.
    private static func appendChunk(_ type: String, _ data: [UInt8], to out: inout [UInt8]) {
        let typeAndData = Array(type.utf8) + data
        let crc = typeAndData.withUnsafeBufferPointer {
            crc32(0, $0.baseAddress, uInt($0.count))
        }
        appendBigEndian(UInt32(data.count), to: &out)
        out += typeAndData
        appendBigEndian(UInt32(truncatingIfNeeded: crc), to: &out)
    }

    /// zlib-wrapped deflate, which is exactly the IDAT payload format.
    private static func deflate(_ data: [UInt8]) throws -> [UInt8] {
        var capacity = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(capacity))
        let status = out.withUnsafeMutableBufferPointer { dst in
            data.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &capacity, src.baseAddress, uLong(src.count), 6)
            }
        }
        guard status == Z_OK else {
            throw VAEError("PNG: zlib compress2 failed with status \(status)")
        }
        out.removeSubrange(Int(capacity)...)
        return out
    }
}
