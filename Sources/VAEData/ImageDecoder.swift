// ImageDecoder: JPEG and PNG files into RasterImage, through libjpeg-turbo and libpng. The format is
// told by the first bytes, not the file's name. Every way a file can be wrong, whatever its bytes, is
// a one-line VAEError naming the file; nothing traps and no C library longjmps through Swift.

import Foundation
import VAESupport

/// Reads JPEG and PNG images as 8-bit grey or RGB.
public enum ImageDecoder {
    /// Larger images are refused before any memory is set aside for them: PIL's decompression-bomb
    /// limit (twice its warning threshold), so a hostile header cannot ask for gigabytes.
    static let maximumPixels = 178_956_970

    /// Decodes a JPEG or PNG file (told by its content, not its name) into `channels` (1 or 3) channels.
    /// Alpha is dropped, not composited (PIL's convert("RGB")); colour becomes grey by the ITU-R 601 luma.
    /// - Throws: `VAEError` "PATH: what is wrong" if the file cannot be read or is not a whole JPEG or PNG.
    public static func decode(contentsOf path: String, channels: Int) throws -> RasterImage {
        try decode(readFile(path), source: path, channels: channels)
    }

    /// Decodes the bytes of a JPEG or PNG file; `source` names them in errors (a path, usually).
    /// - Throws: `VAEError` "SOURCE: what is wrong" if the bytes are not a whole JPEG or PNG.
    public static func decode(_ bytes: some ContiguousBytes, source: String, channels: Int) throws -> RasterImage {
        guard channels == 1 || channels == 3 else {
            throw VAEError("\(source): cannot decode into \(channels) channels (1 for grey or 3 for RGB)")
        }
        let image = try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> RasterImage in
            if raw.starts(with: jpegSignature) { return try decodeJPEG(raw, source: source) }
            if raw.starts(with: pngSignature) { return try decodePNG(raw, source: source) }
            if raw.isEmpty { throw VAEError("\(source): empty file (0 bytes), not an image") }
            let start = raw.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw VAEError("\(source): not a JPEG or PNG image (it starts with bytes \(start))")
        }
        return image.converted(toChannels: channels)
    }

    /// The whole file; a failure is a VAEError with the system's reason ("No such file or directory").
    static func readFile(_ path: String) throws -> [UInt8] {
        let file = open(path, O_RDONLY)
        guard file >= 0 else { throw VAEError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count < 0 {
                if errno == EINTR { continue }
                throw VAEError("\(path): cannot read: \(String(cString: strerror(errno)))")
            }
            bytes += chunk[0..<count]
        }
    }

    /// Every JPEG starts with a start-of-image marker followed by another marker.
    static let jpegSignature: [UInt8] = [0xFF, 0xD8, 0xFF]
    public static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Throws unless a header's size is one to decode: positive and within `maximumPixels`.
    static func checkSize(width: Int, height: Int, source: String) throws {
        guard width > 0, height > 0 else { throw VAEError("\(source): image of size \(width)×\(height) has no pixels") }
        guard width <= maximumPixels / height else {
            throw VAEError("\(source): image of \(width)×\(height) pixels is over the \(maximumPixels)-pixel limit for one image")
        }
    }
}

/// Writes JPEG and PNG files from 8-bit grey or RGB images.
public enum ImageEncoder {
    /// Throws unless `image` is one the encoders take: 1 or 3 channels and as many bytes as its size says.
    static func check(_ image: RasterImage, format: String) throws {
        guard image.channels == 1 || image.channels == 3 else {
            throw VAEError("\(format): cannot encode \(image.channels)-channel images (1 for grey or 3 for RGB)")
        }
        guard image.width > 0, image.height > 0, image.width <= Int(Int32.max) / image.height / image.channels else {
            throw VAEError("\(format): cannot encode an image of \(image.width)×\(image.height) pixels")
        }
        guard image.pixels.count == image.height * image.width * image.channels else {
            throw VAEError("\(format): \(image.pixels.count) pixel bytes for a \(image.width)×\(image.height)×\(image.channels) image, expected \(image.height * image.width * image.channels)")
        }
    }
}
