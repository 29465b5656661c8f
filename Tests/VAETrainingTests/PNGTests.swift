// PNGTests.swift
// Checks PNG output by parsing it independently: signature, chunk CRCs,
// IHDR fields, and inflated scanlines compared byte-for-byte with the input.

import CZlib
import Foundation
import TestSupport
import Testing
@testable import VAEReport
@testable import VAESupport
@testable import VAETraining

/// What a minimal independent decoder extracts from an 8-bit, filter-0 PNG.
private struct DecodedPNG {
    var width = 0, height = 0, bitDepth = 0, colourType = 0
    var chunkTypes: [String] = []
    var pixels: [UInt8] = []
}

private func bigEndian(_ bytes: [UInt8], _ at: Int) -> Int {
    bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
}

private func decode(_ png: [UInt8]) throws -> DecodedPNG {
    try #require(png.count > 8)
    #expect(Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    var result = DecodedPNG()
    var idat: [UInt8] = []
    var offset = 8
    while offset < png.count {
        try #require(offset + 12 <= png.count)
        let length = bigEndian(png, offset)
        try #require(offset + 12 + length <= png.count)
        let typeAndData = Array(png[(offset + 4)..<(offset + 8 + length)])
        let type = String(decoding: typeAndData[0..<4], as: UTF8.self)
        let expectedCRC = typeAndData.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        #expect(bigEndian(png, offset + 8 + length) == Int(expectedCRC), "bad CRC in \(type)")
        let data = Array(typeAndData[4...])
        result.chunkTypes.append(type)
        switch type {
        case "IHDR":
            try #require(data.count == 13)
            result.width = bigEndian(data, 0)
            result.height = bigEndian(data, 4)
            result.bitDepth = Int(data[8])
            result.colourType = Int(data[9])
            #expect(Array(data[10...]) == [0, 0, 0])
        case "IDAT":
            idat += data
        default:
            break
        }
        offset += 12 + length
    }
    let channels = result.colourType == 2 ? 3 : 1
    let rowBytes = result.width * channels
    var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * result.height)
    var rawLength = uLongf(raw.count)
    let status = raw.withUnsafeMutableBufferPointer { dst in
        idat.withUnsafeBufferPointer { src in uncompress(dst.baseAddress, &rawLength, src.baseAddress, uLong(src.count)) }
    }
    try #require(status == Z_OK)
    try #require(Int(rawLength) == raw.count)
    for row in 0..<result.height {
        let start = row * (rowBytes + 1)
        #expect(raw[start] == 0, "row \(row) filter byte")
        result.pixels += raw[(start + 1)..<(start + 1 + rowBytes)]
    }
    return result
}

@Test func greyscaleRoundTrip() throws {
    let pixels: [UInt8] = [0, 1, 2, 127, 128, 129, 200, 254, 255, 9, 8, 7]  // 4 wide, 3 high
    let decoded = try decode(try PNG.encode(width: 4, height: 3, channels: 1, pixels: pixels))
    #expect(decoded.chunkTypes == ["IHDR", "IDAT", "IEND"])
    #expect(decoded.width == 4 && decoded.height == 3)
    #expect(decoded.bitDepth == 8 && decoded.colourType == 0)
    #expect(decoded.pixels == pixels)
}

@Test func rgbRoundTrip() throws {
    let pixels = (0..<(5 * 2 * 3)).map { UInt8(($0 * 37) % 256) }  // 5 wide, 2 high
    let decoded = try decode(try PNG.encode(width: 5, height: 2, channels: 3, pixels: pixels))
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
    #expect(try decode(bytes).pixels == image.pixels)
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
