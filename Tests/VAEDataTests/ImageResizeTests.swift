// Resizing on small images whose answers can be worked by hand: box means when shrinking, bilinear
// when enlarging, stretch against centre crop, the identity, and the CelebA-sized case.

import Testing
import VAEConfig
import VAEData

@Suite struct ImageResizeTests {
    func grey(width: Int, height: Int, _ pixels: [UInt8]) -> RasterImage {
        RasterImage(height: height, width: width, channels: 1, pixels: pixels)
    }

    @Test func boxFilterGivesExactMeans() {
        // Each 2×2 block's mean: (0+10+40+50)/4 = 25, (20+30+60+70)/4 = 45, ...
        let image = grey(width: 4, height: 4, (0..<16).map { UInt8($0 * 10) })
        #expect(image.resized(height: 2, width: 2, mode: .stretch).pixels == [25, 45, 105, 125])
        // Channels stay apart: the same blocks in R, the blocks plus 1 in G, 255 minus them in B.
        let rgb = RasterImage(height: 4, width: 4, channels: 3, pixels: image.pixels.flatMap { [$0, $0 + 1, 255 - $0] })
        #expect(rgb.resized(height: 2, width: 2, mode: .stretch).pixels == [25, 26, 230, 45, 46, 210, 105, 106, 150, 125, 126, 130])
    }

    @Test func boxFilterWeighsPartlyCoveredPixelsByTheirCoverage() {
        // 3 → 2: the output pixels cover source [0, 1.5) and [1.5, 3):
        // (0·1 + 90·0.5) / 1.5 = 30 and (90·0.5 + 180·1) / 1.5 = 150.
        #expect(grey(width: 3, height: 1, [0, 90, 180]).resized(height: 1, width: 2, mode: .stretch).pixels == [30, 150])
        // Halves round up: (1 + 2) / 2 = 1.5 → 2.
        #expect(grey(width: 2, height: 1, [1, 2]).resized(height: 1, width: 1, mode: .stretch).pixels == [2])
    }

    @Test func bilinearEnlargingAlignsPixelCentres() {
        // Output centres at source x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
        #expect(grey(width: 2, height: 1, [0, 100]).resized(height: 1, width: 4, mode: .stretch).pixels == [0, 25, 75, 100])
        let flat = RasterImage(height: 1, width: 1, channels: 3, pixels: [7, 99, 201])
        let big = flat.resized(height: 5, width: 3, mode: .stretch)
        #expect(big.height == 5 && big.width == 3 && big.channels == 3)
        #expect(big.pixels == Array((0..<15).map { _ in [UInt8(7), 99, 201] }.joined()))
    }

    @Test func stretchScalesEachAxisAndCenterCropCutsTheMiddle() {
        // 8 wide, 4 high, each column's value 10 × its index.
        let wide = grey(width: 8, height: 4, (0..<32).map { UInt8($0 % 8 * 10) })
        // Stretch: columns 0–3 and 4–7 average to 15 and 55.
        #expect(wide.resized(height: 2, width: 2, mode: .stretch).pixels == [15, 55, 15, 55])
        // Centre crop to square: columns 2–5, which average in pairs to 25 and 45.
        #expect(wide.resized(height: 2, width: 2, mode: .centerCrop).pixels == [25, 45, 25, 45])
        // Tall images lose their top and bottom instead: rows 2–5 of 8, each row's value 10 × its index.
        let tall = grey(width: 4, height: 8, (0..<32).map { UInt8($0 / 4 * 10) })
        #expect(tall.resized(height: 2, width: 2, mode: .centerCrop).pixels == [25, 25, 45, 45])
        // A crop of the same aspect as the target is the whole image.
        #expect(wide.resized(height: 2, width: 4, mode: .centerCrop) == wide.resized(height: 2, width: 4, mode: .stretch))
    }

    @Test func sameSizeIsTheIdentity() {
        let image = RasterImage(height: 5, width: 7, channels: 3, pixels: (0..<105).map { UInt8($0 * 2) })
        #expect(image.resized(height: 5, width: 7, mode: .stretch) == image)
        #expect(image.resized(height: 5, width: 7, mode: .centerCrop) == image)
    }

    @Test func celebASizedImagesShrinkToTheModelInput() {
        let flat = RasterImage(height: 218, width: 178, channels: 3, pixels: Array((0..<(218 * 178)).map { _ in [UInt8(200), 100, 3] }.joined()))
        for mode in Resize.allCases {
            let small = flat.resized(height: 128, width: 128, mode: mode)
            #expect(small.height == 128 && small.width == 128 && small.channels == 3)
            #expect(small.pixels == Array((0..<(128 * 128)).map { _ in [UInt8(200), 100, 3] }.joined()), "\(mode)")
        }
        // Stretch keeps the whole image: a bright top row stays in the top output row only, a bit of it.
        var topRow = RasterImage(height: 218, width: 178, channels: 1, pixels: [UInt8](repeating: 0, count: 218 * 178))
        for x in 0..<178 { topRow.pixels[x] = 255 }
        let stretched = topRow.resized(height: 128, width: 128, mode: .stretch)
        #expect(stretched.pixels[0..<128].allSatisfy { $0 == 150 })  // 255 · 128/218 = 149.7
        #expect(stretched.pixels[128...].allSatisfy { $0 == 0 })
        // The centre crop (178 × 178 of rows 20–197) drops it.
        #expect(topRow.resized(height: 128, width: 128, mode: .centerCrop).pixels.allSatisfy { $0 == 0 })
    }
}
