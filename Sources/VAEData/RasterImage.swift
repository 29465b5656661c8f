// RasterImage: the one image type: what the JPEG and PNG decoders produce, the resizer and the encoders take,
// and the pictures are drawn on (RasterImage+Drawing.swift), 8 bits a channel. Conversion between grey and RGB
// follows PIL's Image.convert, so that a folder read here gives the pixels the book's Python pipeline would see.

/// Interleaved 8-bit pixels, row-major, `channels` per pixel (1: grey, 3: RGB).
public struct RasterImage: Equatable, Sendable {
    public var height, width, channels: Int
    /// `height * width * channels` bytes: row 0 first, each pixel's channels together.
    public var pixels: [UInt8]

    /// Wraps `pixels` as they are; the caller keeps `pixels.count == height * width * channels`.
    public init(height: Int, width: Int, channels: Int, pixels: [UInt8]) {
        self.height = height
        self.width = width
        self.channels = channels
        self.pixels = pixels
    }

    /// The image with `channels` (1 or 3) channels: grey is copied into R, G and B; RGB becomes grey by
    /// the ITU-R 601 luma, L = R * 299/1000 + G * 587/1000 + B * 114/1000, computed as PIL's convert("L")
    /// computes it (16-bit fixed point, rounded), so that the two agree to the byte.
    public func converted(toChannels target: Int) -> RasterImage {
        precondition(target == 1 || target == 3, "channels must be 1 or 3, not \(target)")
        precondition(channels == 1 || channels == 3, "cannot convert a \(channels)-channel image")
        if target == channels { return self }
        let count = height * width
        var out = [UInt8](repeating: 0, count: count * target)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if target == 3 {
                    for i in 0..<count { dst[3 * i] = src[i]; dst[3 * i + 1] = src[i]; dst[3 * i + 2] = src[i] }
                } else {
                    for i in 0..<count {
                        let luma = 19595 * Int(src[3 * i]) + 38470 * Int(src[3 * i + 1]) + 7471 * Int(src[3 * i + 2])
                        dst[i] = UInt8((luma + 0x8000) >> 16)
                    }
                }
            }
        }
        return RasterImage(height: height, width: width, channels: target, pixels: out)
    }
}
