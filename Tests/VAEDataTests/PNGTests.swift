// The PNG encoder (libpng's), checked by parsing its output independently (decodePNG, in TestSupport):
// signature, chunk CRCs, IHDR fields, and the unfiltered scanlines compared byte for byte with the input.

import Foundation
import TestSupport
import Testing
import VAEData
import VAESupport

@Suite struct PNGTests {
    @Test func greyscaleRoundTrip() throws {
        let pixels: [UInt8] = [0, 1, 2, 127, 128, 129, 200, 254, 255, 9, 8, 7]  // 4 wide, 3 high
        let decoded = try decodePNG(try ImageEncoder.pngData(RasterImage(height: 3, width: 4, channels: 1, pixels: pixels)))
        #expect(decoded.chunkTypes.first == "IHDR" && decoded.chunkTypes.contains("IDAT") && decoded.chunkTypes.last == "IEND")
        #expect(decoded.width == 4 && decoded.height == 3)
        #expect(decoded.bitDepth == 8 && decoded.colourType == 0)
        #expect(decoded.pixels == pixels)
    }

    @Test func rgbRoundTrip() throws {
        let pixels = (0..<(50 * 20 * 3)).map { UInt8(($0 * 37) % 256) }  // 50 wide, 20 high: rows libpng filters
        let decoded = try decodePNG(try ImageEncoder.pngData(RasterImage(height: 20, width: 50, channels: 3, pixels: pixels)))
        #expect(decoded.width == 50 && decoded.height == 20)
        #expect(decoded.bitDepth == 8 && decoded.colourType == 2)
        #expect(decoded.pixels == pixels)
    }

    @Test func encodeRejectsInconsistentInput() {
        #expect(throws: VAEError.self) { try ImageEncoder.pngData(RasterImage(height: 2, width: 2, channels: 2, pixels: [UInt8](repeating: 0, count: 8))) }
        #expect(throws: VAEError.self) { try ImageEncoder.pngData(RasterImage(height: 2, width: 2, channels: 1, pixels: [0, 0, 0])) }
        #expect(throws: VAEError.self) { try ImageEncoder.pngData(RasterImage(height: 2, width: 0, channels: 1, pixels: [])) }
    }

    @Test func theDecoderReadsWhatTheEncoderWrites() throws {
        let image = RasterImage(height: 7, width: 9, channels: 3, pixels: (0..<(7 * 9 * 3)).map { UInt8(($0 * 11) % 256) })
        #expect(try ImageDecoder.decode(ImageEncoder.pngData(image), source: "memory", channels: 3) == image)
    }
}
