// JPEG through TurboJPEG (libjpeg-turbo 2.1's tj* API). It catches libjpeg's errors with its own
// setjmp inside C, so a bad file comes back as -1 and a message, never a longjmp into Swift. A warning
// (libjpeg's word for a truncated or damaged file it would patch over with grey) counts as an error:
// a training set should not hold half images.

import CTurboJPEG
import VAESupport

extension ImageDecoder {
    /// Grey JPEGs decode to 1 channel, the rest to RGB, with libjpeg's defaults (accurate integer
    /// IDCT, smooth chroma upsampling), which are PIL's.
    static func decodeJPEG(_ bytes: UnsafeRawBufferPointer, source: String) throws -> RasterImage {
        guard let handle = tjInitDecompress() else { throw VAEError("\(source): cannot start the JPEG decoder") }
        defer { tjDestroy(handle) }
        let jpeg = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, jpeg, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0 else {
            throw VAEError("\(source): not a readable JPEG (\(turboJPEGMessage(handle)))")
        }
        // A file cut off before its frame header reads as tables only, of no size.
        guard width > 0, height > 0 else { throw VAEError("\(source): truncated or corrupt JPEG (no frame header)") }
        switch colorspace {
        case Int32(TJCS_GRAY.rawValue), Int32(TJCS_RGB.rawValue), Int32(TJCS_YCbCr.rawValue):
            break
        case Int32(TJCS_CMYK.rawValue), Int32(TJCS_YCCK.rawValue):
            throw VAEError("\(source): CMYK JPEG; only grey and RGB JPEGs are supported (convert it to RGB first)")
        default:
            throw VAEError("\(source): JPEG in an unsupported colour space (\(colorspace))")
        }
        try checkSize(width: Int(width), height: Int(height), source: source)
        // Huffman coding spends at least a bit on each 8×8 block of a scan's component, and a component can have
        // 1/16 of the image's blocks, so a file holds at most 8 · 64 · 16 pixels a byte; a header claiming more
        // is refused before the pixels (and libjpeg's coefficient arrays) are allocated. Arithmetic coding can
        // spend far less than a bit; those files have only the pixel limit.
        guard Int(width) * Int(height) <= 8192 * bytes.count || isArithmeticCoded(bytes) else {
            throw VAEError("\(source): JPEG header claims \(width)×\(height) pixels, more than its \(bytes.count) bytes can hold")
        }
        let channels = colorspace == Int32(TJCS_GRAY.rawValue) ? 1 : 3
        let format = channels == 1 ? TJPF_GRAY : TJPF_RGB
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        let status = pixels.withUnsafeMutableBufferPointer {
            tjDecompress2(handle, jpeg, UInt(bytes.count), $0.baseAddress, width, 0, height, Int32(format.rawValue), TJFLAG_STOPONWARNING)
        }
        guard status == 0 else { throw VAEError("\(source): corrupt or truncated JPEG (\(turboJPEGMessage(handle)))") }
        return RasterImage(height: Int(height), width: Int(width), channels: channels, pixels: pixels)
    }

    /// Whether the first frame header (SOFn) is arithmetic-coded (SOF9–11, SOF13–15), found by walking the
    /// marker segments after the start of image.
    private static func isArithmeticCoded(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 2
        while i + 4 <= bytes.count, bytes[i] == 0xFF {
            let marker = bytes[i + 1]
            if marker == 0xFF { i += 1; continue }  // fill byte
            if (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) { return marker >= 0xC9 }
            i += 2 + (Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]))
        }
        return false
    }
}

extension ImageEncoder {
    /// A baseline JPEG of a grey or RGB image at `quality` (1...100; PIL's default is 75), RGB with
    /// 4:2:0 chroma subsampling as PIL writes it.
    /// - Throws: `VAEError` if the image or the quality is out of range, or libjpeg-turbo fails.
    public static func jpegData(_ image: RasterImage, quality: Int) throws -> [UInt8] {
        try check(image, format: "JPEG")
        guard (1...100).contains(quality) else { throw VAEError("JPEG: quality \(quality) is outside 1...100") }
        guard let handle = tjInitCompress() else { throw VAEError("JPEG: cannot start the JPEG encoder") }
        defer { tjDestroy(handle) }
        let grey = image.channels == 1
        var jpeg: UnsafeMutablePointer<UInt8>? = nil
        defer { tjFree(jpeg) }
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer {
            tjCompress2(
                handle, $0.baseAddress, Int32(image.width), 0, Int32(image.height), Int32((grey ? TJPF_GRAY : TJPF_RGB).rawValue),
                &jpeg, &size, Int32((grey ? TJSAMP_GRAY : TJSAMP_420).rawValue), Int32(quality), 0)
        }
        guard status == 0, let jpeg else { throw VAEError("JPEG: cannot encode: \(turboJPEGMessage(handle))") }
        return Array(UnsafeBufferPointer(start: jpeg, count: Int(size)))
    }
}

/// The last error or warning on `handle`, as TurboJPEG words it.
private func turboJPEGMessage(_ handle: tjhandle) -> String {
    String(cString: tjGetErrorStr2(handle))
}
