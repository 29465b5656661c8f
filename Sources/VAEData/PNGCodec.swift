// PNG through libpng's simplified API (png_image_*). Its classic API reports errors by longjmp, which
// must never cross Swift frames; the simplified one catches them inside C and returns 0 with a
// message. It reads every PNG kind (grey, grey+alpha, RGB, RGBA, palette with or without tRNS, 1- to
// 16-bit, interlaced) into the 8-bit layout asked for.

import CPNG
import VAESupport

extension ImageDecoder {
    /// Grey PNGs decode to 1 channel, the rest (palette ones included) to RGB; alpha, whether a channel
    /// or tRNS, is read and then dropped, so that colours under transparent pixels stay as stored, as in
    /// PIL. 16-bit samples v become round(v / 257); a file's gAMA, if any, is applied (libpng's sRGB output).
    static func decodePNG(_ bytes: UnsafeRawBufferPointer, source: String) throws -> RasterImage {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&png) }
        guard png_image_begin_read_from_memory(&png, bytes.baseAddress, bytes.count) != 0 else {
            throw VAEError("\(source): not a readable PNG (\(pngMessage(&png)))")
        }
        let width = Int(png.width), height = Int(png.height)
        try checkSize(width: width, height: height, source: source)
        // Deflate expands at most 1,032-fold and a row holds at least a filter byte and a bit a pixel, so a
        // header claiming more rows than the file could inflate to is refused before the pixels are allocated.
        guard height * (1 + (width + 7) / 8) <= 1032 * bytes.count else {
            throw VAEError("\(source): PNG header claims \(width)×\(height) pixels, more than its \(bytes.count) bytes can hold")
        }
        let colour = png.format & PNG_FORMAT_FLAG_COLOR != 0
        let alpha = png.format & PNG_FORMAT_FLAG_ALPHA != 0
        // Asking for alpha when the file has it keeps libpng from compositing it onto black.
        png.format = (colour ? PNG_FORMAT_FLAG_COLOR : 0) | (alpha ? PNG_FORMAT_FLAG_ALPHA : 0)
        // 16-bit samples with no gAMA or sRGB chunk are sRGB-encoded, as other readers (PIL) take them,
        // not linear, libpng's default, which would brighten them.
        png.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
        let channels = colour ? 3 : 1
        let stored = channels + (alpha ? 1 : 0)
        var pixels = [UInt8](repeating: 0, count: width * height * stored)
        let finished = pixels.withUnsafeMutableBytes { png_image_finish_read(&png, nil, $0.baseAddress, 0, nil) }
        guard finished != 0 else { throw VAEError("\(source): corrupt or truncated PNG (\(pngMessage(&png)))") }
        if alpha { pixels = droppingLastChannel(pixels, stored: stored) }
        return RasterImage(height: height, width: width, channels: channels, pixels: pixels)
    }

    /// Each pixel's first `stored - 1` bytes.
    private static func droppingLastChannel(_ pixels: [UInt8], stored: Int) -> [UInt8] {
        let count = pixels.count / stored, kept = stored - 1
        var out = [UInt8](repeating: 0, count: count * kept)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<count {
                    for c in 0..<kept { dst[i * kept + c] = src[i * stored + c] }
                }
            }
        }
        return out
    }
}

extension ImageEncoder {
    /// An 8-bit grey (colour type 0) or RGB (colour type 2) PNG of `image`.
    /// - Throws: `VAEError` if the image is out of range or libpng fails.
    public static func pngData(_ image: RasterImage) throws -> [UInt8] {
        try check(image, format: "PNG")
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = image.channels == 3 ? PNG_FORMAT_FLAG_COLOR : 0
        defer { png_image_free(&png) }
        // libpng says how long the file is when given no memory, then writes it into as much.
        var size: png_alloc_size_t = 0
        var out: [UInt8] = []
        let written = image.pixels.withUnsafeBytes { pixels in
            guard png_image_write_to_memory(&png, nil, &size, 0, pixels.baseAddress, 0, nil) != 0 else { return false }
            out = [UInt8](repeating: 0, count: Int(size))
            return out.withUnsafeMutableBytes { png_image_write_to_memory(&png, $0.baseAddress, &size, 0, pixels.baseAddress, 0, nil) } != 0
        }
        guard written, Int(size) <= out.count else { throw VAEError("PNG: cannot encode: \(pngMessage(&png))") }
        return Array(out.prefix(Int(size)))
    }
}

/// The error (or first warning) libpng recorded in `png.message`, a NUL-terminated C string.
private func pngMessage(_ png: inout png_image) -> String {
    withUnsafeBytes(of: &png.message) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}
