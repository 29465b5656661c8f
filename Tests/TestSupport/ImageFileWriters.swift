// Image files the decoding tests need and the project's encoders do not write: PNGs of every colour
// type and bit depth, interlaced ones (libpng's classic write API), and CMYK JPEGs (TurboJPEG).
// libpng's classic API aborts the process on an error when no setjmp is set; these inputs are valid.

import CPNG
import CTurboJPEG
import Foundation
import VAEData

/// A PNG as the file stores it: `rows` are each row's samples, big-endian when 16-bit.
public struct PNGFileSpec {
    public var width: Int
    public var height: Int
    public var colourType: Int32
    public var bitDepth: Int32 = 8
    public var interlaced = false
    public var palette: [(red: UInt8, green: UInt8, blue: UInt8)] = []
    /// tRNS for a palette: the alpha of the first entries.
    public var paletteAlpha: [UInt8] = []
    public var rows: [[UInt8]]

    public init(width: Int, height: Int, colourType: Int32, bitDepth: Int32 = 8, interlaced: Bool = false,
                palette: [(red: UInt8, green: UInt8, blue: UInt8)] = [], paletteAlpha: [UInt8] = [], rows: [[UInt8]]) {
        (self.width, self.height, self.colourType, self.bitDepth, self.interlaced) = (width, height, colourType, bitDepth, interlaced)
        (self.palette, self.paletteAlpha, self.rows) = (palette, paletteAlpha, rows)
    }
}

/// Writes `image` with the project's encoder to `path`, making its folder.
public func writePNG(_ image: RasterImage, _ path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(ImageEncoder.pngData(image)).write(to: URL(fileURLWithPath: path))
}

/// Writes `spec` with libpng's classic API to `url`; returns the path.
@discardableResult
public func writePNG(_ spec: PNGFileSpec, to url: URL) -> String {
    let file = fopen(url.path, "wb")!
    defer { fclose(file) }
    var png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nil, nil, nil)
    var info = png_create_info_struct(png)
    defer { png_destroy_write_struct(&png, &info) }
    png_init_io(png, file)
    png_set_IHDR(png, info, UInt32(spec.width), UInt32(spec.height), spec.bitDepth, spec.colourType,
                 spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT)
    if !spec.palette.isEmpty {
        let colours = spec.palette.map { png_color(red: $0.red, green: $0.green, blue: $0.blue) }
        png_set_PLTE(png, info, colours, Int32(colours.count))
    }
    if !spec.paletteAlpha.isEmpty { png_set_tRNS(png, info, spec.paletteAlpha, Int32(spec.paletteAlpha.count), nil) }
    png_write_info(png, info)
    var samples = spec.rows.flatMap { $0 }
    let rowBytes = spec.rows[0].count
    samples.withUnsafeMutableBufferPointer { buffer in
        var rows = (0..<spec.height).map { Optional(buffer.baseAddress! + $0 * rowBytes) }
        png_write_image(png, &rows)
    }
    png_write_end(png, nil)
    return url.path
}

/// A CMYK JPEG of one flat colour. TurboJPEG writes CMYK as YCCK (Adobe transform 2); `plainCMYK`
/// rewrites the Adobe APP14 marker's transform byte to 0, which makes the same file plain CMYK.
public func cmykJPEG(width: Int, height: Int, plainCMYK: Bool) -> [UInt8] {
    let handle = tjInitCompress()!
    defer { tjDestroy(handle) }
    let pixels = [UInt8](repeating: 0, count: width * height * 4).enumerated().map { UInt8(40 * ($0.offset % 4)) }
    var jpeg: UnsafeMutablePointer<UInt8>? = nil
    defer { tjFree(jpeg) }
    var size: UInt = 0
    let status = tjCompress2(handle, pixels, Int32(width), 0, Int32(height), Int32(TJPF_CMYK.rawValue), &jpeg, &size,
                             Int32(TJSAMP_444.rawValue), 90, 0)
    precondition(status == 0, String(cString: tjGetErrorStr2(handle)))
    var bytes = Array(UnsafeBufferPointer(start: jpeg, count: Int(size)))
    if plainCMYK {
        // APP14: FF EE, length (2 bytes), "Adobe", version (2), flags0 (2), flags1 (2), transform (1).
        let adobe = Array("Adobe".utf8)
        let at = (0..<(bytes.count - 16)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xEE && Array(bytes[($0 + 4)..<($0 + 9)]) == adobe }!
        bytes[at + 15] = 0
    }
    return bytes
}
