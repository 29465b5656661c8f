// ImagePlotTests.swift
// Geometry checks for RasterImage grids, the bitmap font, axis ticks and scatter plots:
// exact sizes, pixel values at known positions, and data-to-pixel mapping.

import TestSupport
import Testing
import VAEData
import VAEConfig
@testable import VAEReport

/// Fashion-MNIST's classes by label, as configs/fashion-mnist.yaml lists them in `data.class_names`.
private let fashionMNISTClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

@Test func gridGeometryAndPixels() {
    let a: [Float] = [0, 0, 0, 0]
    let b: [Float] = [0, 0.5, 1, 0.25]
    let c: [Float] = [0.2, 0.2, 0.2, 0.2]
    let grid = RasterImage.grid(images: [a, b, c], imageHeight: 2, imageWidth: 2, channels: 1, columns: 2, padding: 1)
    #expect(grid.width == 2 * 2 + 3 * 1)
    #expect(grid.height == 2 * 2 + 3 * 1)
    #expect(grid.channels == 1)
    // Cell origins: a (1,1), b (4,1), c (1,4); cell (4,4) is empty.
    #expect(grid[x: 1, y: 1, channel: 0] == 0)
    #expect(grid[x: 2, y: 2, channel: 0] == 0)
    #expect(grid[x: 4, y: 1, channel: 0] == 0)
    #expect(grid[x: 5, y: 1, channel: 0] == 128)  // 127.5 rounds up
    #expect(grid[x: 4, y: 2, channel: 0] == 255)
    #expect(grid[x: 5, y: 2, channel: 0] == 64)   // 63.75
    #expect(grid[x: 1, y: 4, channel: 0] == 51)
    #expect(grid[x: 2, y: 5, channel: 0] == 51)
    // Background: border, gaps between cells, and the unused cell.
    for (x, y) in [(0, 0), (3, 1), (1, 3), (6, 6), (4, 4), (5, 5), (3, 4)] {
        #expect(grid[x: x, y: y, channel: 0] == 255, "(\(x), \(y))")
    }
}

@Test func gridOfRGBImages() {
    let red: [Float] = [1, 0, 0]
    let grid = RasterImage.grid(images: [red, red, red], imageHeight: 1, imageWidth: 1, channels: 3, columns: 3, padding: 0, background: 7)
    #expect(grid.width == 3 && grid.height == 1 && grid.channels == 3)
    #expect(grid.pixels == [255, 0, 0, 255, 0, 0, 255, 0, 0])
}

@Test func pasteClampsRoundsAndReplicatesGrey() {
    var image = RasterImage(width: 4, height: 1, channels: 3, background: 9)
    image.paste([-0.5, 1.5, .nan, 0.5], width: 4, height: 1, channels: 1, atX: 0, y: 0)
    #expect(image.pixels == [0, 0, 0, 255, 255, 255, 0, 0, 0, 128, 128, 128])
    image.paste([1, 1], width: 2, height: 1, channels: 1, atX: 3, y: 0)  // clipped at the right edge
    #expect(image[x: 3, y: 0, channel: 1] == 255)
    image.setPixel(x: -1, y: 5, color: [1, 2, 3])  // ignored
    #expect(image.pixels.count == 12)
}

@Test func fontCoversFashionMNISTNames() throws {
    let config = try TrainingConfig.load(path: defaultConfig)
    #expect(config.data.classNames == fashionMNISTClasses)
    for character in fashionMNISTClasses.joined().uppercased() where character != " " {
        #expect(BitmapFont.glyphs[character] != nil, "missing glyph \(character)")
    }
    var image = RasterImage(width: 20, height: 9, channels: 1, background: 0)
    BitmapFont.draw("1-", at: 1, y: 1, color: [255], on: &image)
    #expect(BitmapFont.width(of: "1-") == 11)
    #expect(image[x: 3, y: 1, channel: 0] == 255)    // top of the "1"
    #expect(image[x: 7, y: 4, channel: 0] == 255)    // bar of the "-"
    #expect(image[x: 7, y: 1, channel: 0] == 0)
}

@Test func tickValuesAreNice() {
    #expect(Axis.ticks(-0.5, 10.5).map(\.text) == ["0", "2", "4", "6", "8", "10"])
    #expect(Axis.ticks(-0.05, 1.05).map(\.text) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    #expect(Axis.ticks(-3.2, 2.9).map(\.text) == ["-3", "-2", "-1", "0", "1", "2"])
}

@Test func scatterGeometryAndColours() throws {
    let points: [(x: Float, y: Float)] = [(0, 0), (10, 10), (5, 5)]
    let labels = [0, 1, 2]
    let names = ["T-shirt/top", "Trouser", "Pullover"]
    let image = ScatterPlot.render(points: points, labels: labels, labelNames: names, width: 640, height: 480)
    #expect(image.width == 640 && image.height == 480 && image.channels == 3)

    let frame = ScatterPlot.frame(points: points, labels: labels, labelNames: names, width: 640, height: 480)
    #expect(abs(frame.xMin + 0.5) < 1e-5 && abs(frame.xMax - 10.5) < 1e-5)
    #expect(abs(frame.yMin + 0.5) < 1e-5 && abs(frame.yMax - 10.5) < 1e-5)
    #expect(frame.left > 0 && frame.top > 0 && frame.right < 639 && frame.bottom < 479)
    #expect(frame.right - frame.left > 400 && frame.bottom - frame.top > 350)

    // Range ends map onto the plot-area edges; data corners lie strictly inside.
    #expect(frame.pixel(for: (frame.xMin, frame.yMin)) == (frame.left, frame.bottom))
    #expect(frame.pixel(for: (frame.xMax, frame.yMax)) == (frame.right, frame.top))
    for corner in [(Float(0), Float(0)), (10, 10)] {
        let p = frame.pixel(for: corner)
        #expect(p.x > frame.left && p.x < frame.right && p.y > frame.top && p.y < frame.bottom)
    }

    // (5, 5) is the middle of the range, so it sits at the plot-area centre.
    let centre = frame.pixel(for: (5, 5))
    #expect(centre.x == frame.left + Int((Double(frame.right - frame.left) / 2).rounded()))
    #expect(centre.y == frame.bottom - Int((Double(frame.bottom - frame.top) / 2).rounded()))
    let green: [UInt8] = [0x2C, 0xA0, 0x2C]
    for dy in -1...1 {
        for dx in -1...1 {
            #expect(pixel(image, centre.x + dx, centre.y + dy) == green)
        }
    }
    #expect(pixel(image, centre.x + 3, centre.y) == [255, 255, 255])
    // (0, 0) is 0.5/11 of the way along each axis from the lower-left corner.
    let origin = frame.pixel(for: (0, 0))
    #expect(origin.x == frame.left + Int((0.5 / 11 * Double(frame.right - frame.left)).rounded()))
    #expect(pixel(image, origin.x, origin.y) == [0x1F, 0x77, 0xB4])
    #expect(pixel(image, frame.pixel(for: (10, 10)).x, frame.pixel(for: (10, 10)).y) == [0xFF, 0x7F, 0x0E])

    // Axes box, and a legend swatch for label 2 to the right of the plot area.
    #expect(pixel(image, frame.left, frame.top) == [0, 0, 0])
    #expect(pixel(image, frame.right, frame.bottom) == [0, 0, 0])
    let legendGreen = (frame.right + 1..<640).flatMap { x in (0..<480).map { (x, $0) } }
        .filter { pixel(image, $0.0, $0.1) == green }
    #expect(legendGreen.count == 49)
}

@Test func scatterWithoutLabelsHasNoLegendAndHandlesDegenerateData() {
    let points: [(x: Float, y: Float)] = [(3, 3), (3, 3), (.nan, 1)]
    let frame = ScatterPlot.frame(points: points, labels: nil, labelNames: [], width: 200, height: 100)
    #expect(frame.xMin < 3 && frame.xMax > 3 && frame.yMin < 3 && frame.yMax > 3)
    #expect(frame.right == 200 - 1 - 12)
    let image = ScatterPlot.render(points: points, labels: nil, labelNames: [], width: 200, height: 100)
    let p = frame.pixel(for: (3, 3))
    #expect(pixel(image, p.x, p.y) == ScatterPlot.palette[0])
}

@Test func latentLegendShowsClassNamesOrLabelNumbers() {
    let labels = Array(0..<10), numbers = labels.map(String.init)
    #expect(ScatterPlot.legendEntries(labels: labels, names: []).map(\.name) == numbers)
    #expect(ScatterPlot.legendEntries(labels: labels, names: fashionMNISTClasses).map(\.name) == fashionMNISTClasses)
    #expect(ScatterPlot.legendEntries(labels: [12, 1, 1], names: fashionMNISTClasses).map(\.name) == ["Trouser", "12"])
    #expect(ScatterPlot.legendEntries(labels: nil, names: fashionMNISTClasses).isEmpty)

    // The latent scatter draws those rows: the label numbers without class names, the names with them.
    let points = labels.map { (x: Float($0), y: Float($0 % 4)) }, means = points.flatMap { [$0.x, $0.y] }
    let unnamed = SampleImages.latentScatter(means: means, labels: labels, classNames: [])
    let named = SampleImages.latentScatter(means: means, labels: labels, classNames: fashionMNISTClasses)
    #expect(unnamed == ScatterPlot.render(points: points, labels: labels, labelNames: numbers))
    #expect(named == ScatterPlot.render(points: points, labels: labels, labelNames: fashionMNISTClasses))
    #expect(named != unnamed)
}

private func pixel(_ image: RasterImage, _ x: Int, _ y: Int) -> [UInt8] {
    (0..<image.channels).map { image[x: x, y: y, channel: $0] }
}
