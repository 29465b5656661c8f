// PNGTests.swift
// Checks PNG output by parsing it independently (decodePNG, in Fixtures): signature, chunk CRCs,
// IHDR fields, and inflated scanlines compared byte-for-byte with the input.

import Foundation
import TestSupport
import Testing
@testable import VAEReport
@testable import VAESupport
@testable import VAETraining

@Test func greyscaleRoundTrip() throws {
    let pixels: [UInt8] = [0, 1, 2, 127, 128, 129, 200, 254, 255, 9, 8, 7]  // 4 wide, 3 high
    let decoded = try decodePNG(try PNG.encode(width: 4, height: 3, channels: 1, pixels: pixels))
    #expect(decoded.chunkTypes == ["IHDR", "IDAT", "IEND"])
    #expect(decoded.width == 4 && decoded.height == 3)
    #expect(decoded.bitDepth == 8 && decoded.colourType == 0)
    #expect(decoded.pixels == pixels)
}

@Test func rgbRoundTrip() throws {
    let pixels = (0..<(5 * 2 * 3)).map { UInt8(($0 * 37) % 256) }  // 5 wide, 2 high
    let decoded = try decodePNG(try PNG.encode(width: 5, height: 2, channels: 3, pixels: pixels))
    #expect(decoded.chunkTypes == ["IHDR", "IDAT", "IEND"])
    #expect(decoded.width == 5 && decoded.height == 2)
    #expect(decoded.bitDepth == 8 && decoded.colourType == 2)
    #expect(decoded.pixels == pixels)
}

@Test func encodeRejectsInconsistentInput() {
    #expect(throws: VAEError.self) { try PNG.encode(width: 2, height: 2, channels: 2, pixels: [UInt8](repeating: 0, count: 8)) }
    #expect(throws: VAEError.self) { try PNG.encode(width: 2, height: 2, channels: 1, pixels: [0, 0, 0]) }
    #expect(throws: VAEError.self) { try PNG.encode(width: 0, height: 2, channels: 1, pixels: []) }
}

@Test func writeProducesFileAndRemovesTemporary() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("out.png").path
    var image = RasterImage(width: 3, height: 2, channels: 3, background: 10)
    image.setPixel(x: 2, y: 1, color: [1, 2, 3])
    try PNG.write(image, to: path)
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    #expect(bytes == (try PNG.encode(width: 3, height: 2, channels: 3, pixels: image.pixels)))
    #expect(try decodePNG(bytes).pixels == image.pixels)
    #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
}

@Test func writeToMissingDirectoryThrowsNamingPath() {
    let path = "/nonexistent-\(UUID().uuidString)/sub/out.png"
    do {
        try PNG.write(RasterImage(width: 1, height: 1, channels: 1), to: path)
        Issue.record("expected an error")
    } catch let error as VAEError {
        #expect(error.message.contains(path))
        #expect(!error.message.contains("\n"))
    } catch {
        Issue.record("unexpected error type: \(error)")
    }
}
