// JPEG and PNG decoding on files written here: every PNG kind, grey and RGB JPEGs, odd sizes, the
// grey/RGB conversions, and every way a file can be bad (truncated, corrupt, CMYK, not an image, empty),
// which must give one line naming the file, never a crash.

import CPNG
import CZlib
import Foundation
import TestSupport
import Testing
import VAEData
import VAESupport

@Suite struct ImageDecodingTests {
    let directory = temporaryDirectory()

    func path(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// `width`×`height` RGB pixels that differ in every channel, from `seed`.
    func pattern(width: Int, height: Int, channels: Int, seed: Int = 0) -> RasterImage {
        RasterImage(height: height, width: width, channels: channels,
                     pixels: (0..<(width * height * channels)).map { UInt8(truncatingIfNeeded: ($0 + seed) &* 37 &+ $0 / 7) })
    }

    /// Decodes the PNG that `spec` describes as RGB.
    func decodedRGB(_ spec: PNGFileSpec, _ name: String) throws -> RasterImage {
        try ImageDecoder.decode(contentsOf: writePNG(spec, to: path(name)), channels: 3)
    }

    @Test func greyAndRGBPNGsRoundTripExactly() throws {
        for (width, height) in [(7, 5), (1, 1), (178, 218)] {
            for channels in [1, 3] {
                let image = pattern(width: width, height: height, channels: channels)
                let file = write(try ImageEncoder.pngData(image), to: path("\(width)x\(height)x\(channels).png"))
                #expect(try ImageDecoder.decode(contentsOf: file, channels: channels) == image)
            }
        }
    }

    @Test func greyBecomesRGBByCopyingAndRGBBecomesGreyByLuma() throws {
        let grey = RasterImage(height: 1, width: 2, channels: 1, pixels: [9, 200])
        let greyFile = write(try ImageEncoder.pngData(grey), to: path("grey.png"))
        #expect(try ImageDecoder.decode(contentsOf: greyFile, channels: 3).pixels == [9, 9, 9, 200, 200, 200])
        // PIL's convert("L"): (255, 0, 0) → 76, (0, 255, 0) → 150, (0, 0, 255) → 29, (10, 20, 30) → 18.
        let rgb = RasterImage(height: 2, width: 2, channels: 3, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
        let rgbFile = write(try ImageEncoder.pngData(rgb), to: path("rgb.png"))
        #expect(try ImageDecoder.decode(contentsOf: rgbFile, channels: 1).pixels == [76, 150, 29, 18])
    }

    @Test func alphaIsDroppedNotComposited() throws {
        // Grey+alpha and RGBA; the second pixel is fully transparent and keeps its colour.
        let ga = PNGFileSpec(width: 2, height: 1, colourType: PNG_COLOR_TYPE_GRAY_ALPHA, rows: [[100, 255, 50, 0]])
        #expect(try decodedRGB(ga, "ga.png").pixels == [100, 100, 100, 50, 50, 50])
        let rgba = PNGFileSpec(width: 2, height: 1, colourType: PNG_COLOR_TYPE_RGB_ALPHA, rows: [[1, 2, 3, 128, 200, 100, 50, 0]])
        #expect(try decodedRGB(rgba, "rgba.png").pixels == [1, 2, 3, 200, 100, 50])
    }

    @Test func palettePNGsWithAndWithoutTransparency() throws {
        let palette: [(red: UInt8, green: UInt8, blue: UInt8)] = [(255, 0, 0), (0, 128, 255), (7, 8, 9)]
        var spec = PNGFileSpec(width: 3, height: 2, colourType: PNG_COLOR_TYPE_PALETTE, palette: palette, rows: [[0, 1, 2], [2, 1, 0]])
        let expected: [UInt8] = [255, 0, 0, 0, 128, 255, 7, 8, 9, 7, 8, 9, 0, 128, 255, 255, 0, 0]
        #expect(try decodedRGB(spec, "palette.png").pixels == expected)
        spec.paletteAlpha = [0, 128]
        #expect(try decodedRGB(spec, "palette-trns.png").pixels == expected)
        // 2-bit indices, four to a byte: 0, 1, 2 then padding.
        spec = PNGFileSpec(width: 3, height: 1, colourType: PNG_COLOR_TYPE_PALETTE, bitDepth: 2, palette: palette, rows: [[0b0001_1000]])
        #expect(try decodedRGB(spec, "palette-2bit.png").pixels == Array(expected[0..<9]))
    }

    @Test func sixteenBitPNGsScaleToEightBitsAsSRGB() throws {
        // Samples v·257 are exactly v in 8 bits; 0x1280 is 18.4 in 8 bits. No gAMA chunk: taken as sRGB.
        let grey = PNGFileSpec(width: 3, height: 1, colourType: PNG_COLOR_TYPE_GRAY, bitDepth: 16, rows: [[0, 0, 0x80, 0x80, 0x12, 0x80]])
        #expect(try ImageDecoder.decode(contentsOf: writePNG(grey, to: path("grey16.png")), channels: 1).pixels == [0, 128, 18])
        let rgb = PNGFileSpec(width: 1, height: 1, colourType: PNG_COLOR_TYPE_RGB, bitDepth: 16, rows: [[255, 255, 10, 10, 200, 200]])
        #expect(try decodedRGB(rgb, "rgb16.png").pixels == [255, 10, 200])
        // Half and fully transparent pixels keep their colours.
        let rgba = PNGFileSpec(width: 2, height: 1, colourType: PNG_COLOR_TYPE_RGB_ALPHA, bitDepth: 16,
                               rows: [[255, 255, 10, 10, 200, 200, 0x80, 0, 0x12, 0x80, 30, 30, 40, 40, 0, 0]])
        #expect(try decodedRGB(rgba, "rgba16.png").pixels == [255, 10, 200, 18, 30, 40])
    }

    @Test func lowBitDepthGreyExpandsToTheFullRange() throws {
        let spec = PNGFileSpec(width: 4, height: 1, colourType: PNG_COLOR_TYPE_GRAY, bitDepth: 2, rows: [[0b0001_1011]])
        #expect(try ImageDecoder.decode(contentsOf: writePNG(spec, to: path("grey2.png")), channels: 1).pixels == [0, 85, 170, 255])
    }

    @Test func interlacedPNGsDecodeLikePlainOnes() throws {
        let image = pattern(width: 13, height: 11, channels: 3, seed: 5)
        let rows = (0..<image.height).map { Array(image.pixels[($0 * image.width * 3)..<(($0 + 1) * image.width * 3)]) }
        let spec = PNGFileSpec(width: image.width, height: image.height, colourType: PNG_COLOR_TYPE_RGB, interlaced: true, rows: rows)
        #expect(try decodedRGB(spec, "interlaced.png") == image)
    }

    @Test func flatJPEGsDecodeWithinThreeLevels() throws {
        for (width, height) in [(178, 218), (7, 5), (1, 1)] {
            let rgb = RasterImage(height: height, width: width, channels: 3, pixels: Array([UInt8]([200, 100, 50]).repeated(width * height)))
            let rgbFile = write(try ImageEncoder.jpegData(rgb, quality: 95), to: path("rgb-\(width).jpg"))
            let decoded = try ImageDecoder.decode(contentsOf: rgbFile, channels: 3)
            #expect(decoded.height == height && decoded.width == width && decoded.channels == 3)
            #expect(zip(decoded.pixels, rgb.pixels).allSatisfy { abs(Int($0) - Int($1)) <= 3 })
            let luma = try ImageDecoder.decode(contentsOf: rgbFile, channels: 1)
            #expect(luma.pixels.allSatisfy { abs(Int($0) - 124) <= 3 })  // (299·200 + 587·100 + 114·50) / 1000

            let grey = RasterImage(height: height, width: width, channels: 1, pixels: [UInt8](repeating: 77, count: width * height))
            let greyFile = write(try ImageEncoder.jpegData(grey, quality: 90), to: path("grey-\(width).jpeg"))
            #expect(try ImageDecoder.decode(contentsOf: greyFile, channels: 1).pixels.allSatisfy { abs(Int($0) - 77) <= 3 })
            let spread = try ImageDecoder.decode(contentsOf: greyFile, channels: 3)
            #expect(spread.channels == 3 && spread.pixels.allSatisfy { abs(Int($0) - 77) <= 3 })
        }
    }

    @Test func formatIsToldByContentNotName() throws {
        let image = pattern(width: 4, height: 3, channels: 3)
        let png = write(try ImageEncoder.pngData(image), to: path("really-a-png.jpg"))
        #expect(try ImageDecoder.decode(contentsOf: png, channels: 3) == image)
        let jpeg = write(try ImageEncoder.jpegData(image, quality: 75), to: path("really-a-jpeg.png"))
        #expect(try ImageDecoder.decode(contentsOf: jpeg, channels: 3).width == 4)
    }

    @Test func badFilesGiveOneLineNamingTheFile() throws {
        let image = pattern(width: 178, height: 218, channels: 3)
        let jpeg = try ImageEncoder.jpegData(image, quality: 90), png = try ImageEncoder.pngData(image)
        let cases: [(name: String, bytes: [UInt8], says: String)] = [
            ("truncated.jpg", Array(jpeg.prefix(jpeg.count / 2)), "JPEG"),
            ("header-only.jpg", Array(jpeg.prefix(200)), "JPEG"),
            ("signature-only.jpg", [0xFF, 0xD8, 0xFF], "JPEG"),
            ("truncated.png", Array(png.prefix(png.count / 2)), "truncated PNG"),
            ("header-only.png", Array(png.prefix(40)), "PNG"),
            ("signature-only.png", Array(png.prefix(8)), "PNG"),
            ("notes.txt", Array("these are not pixels\n".utf8), "not a JPEG or PNG"),
            ("empty.png", [], "empty file"),
            ("ycck.jpg", cmykJPEG(width: 8, height: 8, plainCMYK: false), "CMYK"),
            ("cmyk.jpg", cmykJPEG(width: 8, height: 8, plainCMYK: true), "CMYK"),
        ]
        for bad in cases {
            let file = write(bad.bytes, to: path(bad.name))
            #expect(expectVAEError(file, bad.says) { _ = try ImageDecoder.decode(contentsOf: file, channels: 3) } == nil, "\(bad.name)")
            #expect(oneLine(file), "\(bad.name)")
        }
        let missing = path("missing.png").path
        #expect(expectVAEError(missing, "cannot open: No such file or directory") { _ = try ImageDecoder.decode(contentsOf: missing, channels: 3) } == nil)
        #expect(expectVAEError(directory.path, "cannot read: Is a directory") { _ = try ImageDecoder.decode(contentsOf: directory.path, channels: 3) } == nil)
        let good = write(png, to: path("good.png"))
        #expect(expectVAEError(good, "2 channels") { _ = try ImageDecoder.decode(contentsOf: good, channels: 2) } == nil)
    }

    /// Whether decoding `file` fails with a message of one line.
    func oneLine(_ file: String) -> Bool {
        do { _ = try ImageDecoder.decode(contentsOf: file, channels: 1) } catch let error as VAEError {
            return !error.message.contains("\n")
        } catch { return false }
        return false
    }

    @Test func aHugeHeaderIsRefusedBeforeAnyAllocation() throws {
        var jpeg = try ImageEncoder.jpegData(pattern(width: 8, height: 8, channels: 3), quality: 75)
        // SOF0: FF C0, length (2), precision (1), height (2), width (2).
        let sof = try #require((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0xFD, 0xE8, 0xFD, 0xE8])
        let file = write(jpeg, to: path("huge.jpg"))
        #expect(expectVAEError(file, "65000×65000", "limit") { _ = try ImageDecoder.decode(contentsOf: file, channels: 3) } == nil)
        // Under the limit, but more pixels than the file's bytes could code.
        jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0x0F, 0xA0, 0x0F, 0xA0])
        #expect(expectVAEError("4000×4000", "can hold") { _ = try ImageDecoder.decode(jpeg, source: "huge.jpg", channels: 3) } == nil)
        var png = try ImageEncoder.pngData(pattern(width: 8, height: 8, channels: 3))
        // IHDR's width and height (bytes 16–23), then its CRC over the chunk type and data (bytes 12–28).
        png.replaceSubrange(16..<24, with: [0, 0, 0x32, 0xC8, 0, 0, 0x32, 0xC8])
        let crc = png[12..<29].withUnsafeBytes { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        #expect(expectVAEError("13000×13000", "can hold") { _ = try ImageDecoder.decode(png, source: "huge.png", channels: 3) } == nil)
    }

    /// Every prefix and many single-byte corruptions of a small JPEG and PNG: each decodes or throws a
    /// VAEError naming the source; none traps or crashes.
    @Test func damagedBytesNeverCrash() throws {
        let image = pattern(width: 9, height: 6, channels: 3)
        for original in [try ImageEncoder.jpegData(image, quality: 80), try ImageEncoder.pngData(image)] {
            var variants = (0..<original.count).map { Array(original.prefix($0)) }
            for at in stride(from: 0, to: original.count, by: 3) {
                var flipped = original
                flipped[at] ^= 0x5A
                variants.append(flipped)
            }
            for bytes in variants {
                do { _ = try ImageDecoder.decode(bytes, source: "damaged", channels: 3) } catch let error as VAEError {
                    #expect(error.message.hasPrefix("damaged: ") && !error.message.contains("\n"))
                }
            }
        }
    }
}

private extension Array {
    /// The array `count` times over.
    func repeated(_ count: Int) -> [Element] { Array((0..<count).map { _ in self }.joined()) }
}
