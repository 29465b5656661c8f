// Drawing on a RasterImage: the sample grids, scatter plots and histograms are composed pixel by pixel here,
// then encoded as PNG (ImageEncoder.pngData).

import VAEData

extension RasterImage {
    /// An image with every byte set to `background`.
    init(width: Int, height: Int, channels: Int, background: UInt8 = 0) {
        precondition(width >= 0 && height >= 0, "RasterImage: negative size")
        precondition(channels == 1 || channels == 3, "RasterImage: channels must be 1 or 3")
        self.init(height: height, width: width, channels: channels, pixels: [UInt8](repeating: background, count: width * height * channels))
    }

    /// Reads or writes one channel of one pixel; coordinates must be in bounds.
    subscript(x x: Int, y y: Int, channel channel: Int) -> UInt8 {
        get { pixels[index(x: x, y: y, channel: channel)] }
        set { pixels[index(x: x, y: y, channel: channel)] = newValue }
    }

    /// Sets every channel of the pixel at (x, y).
    ///
    /// Out-of-bounds coordinates are ignored so that plotting code can draw
    /// markers near the edges without clipping them itself. A one-element
    /// `color` is replicated across channels; otherwise its count must match `channels`.
    mutating func setPixel(x: Int, y: Int, color: [UInt8]) {
        precondition(color.count == 1 || color.count == channels, "RasterImage: colour has \(color.count) components for \(channels) channels")
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let base = (y * width + x) * channels
        for c in 0..<channels {
            pixels[base + c] = color.count == 1 ? color[0] : color[c]
        }
    }

    /// Fills the rectangle with top-left (x, y) and the given size, clipped to the image.
    mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, color: [UInt8]) {
        let x0 = max(0, x), x1 = min(width, x + w)
        let y0 = max(0, y), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for py in y0..<y1 {
            for px in x0..<x1 { setPixel(x: px, y: py, color: color) }
        }
    }

    /// Draws the 1-pixel outline of the rectangle with top-left (x, y) and the given size, clipped to the image.
    mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, color: [UInt8]) {
        fillRect(x: x, y: y, width: w, height: 1, color: color)
        fillRect(x: x, y: y + h - 1, width: w, height: 1, color: color)
        fillRect(x: x, y: y, width: 1, height: h, color: color)
        fillRect(x: x + w - 1, y: y, width: 1, height: h, color: color)
    }

    /// Pastes a float image with values in [0, 1] with its top-left corner at (x, y).
    ///
    /// Values are scaled to 0...255, rounded and clamped (NaN becomes 0).
    /// A 1-channel source is replicated into an RGB target; otherwise the
    /// channel counts must match. Parts falling outside this image are clipped.
    /// - Parameters:
    ///   - values: Row-major `height * width * channels` floats.
    mutating func paste(_ values: [Float], width w: Int, height h: Int, channels c: Int, atX x: Int, y: Int) {
        precondition(c == 1 || c == channels, "RasterImage: cannot paste \(c)-channel image into \(channels)-channel image")
        precondition(values.count == w * h * c, "RasterImage: expected \(w * h * c) values, got \(values.count)")
        for row in 0..<h {
            for col in 0..<w {
                let base = (row * w + col) * c
                setPixel(x: x + col, y: y + row, color: (0..<c).map { RasterImage.byte(values[base + $0]) })
            }
        }
    }

    /// Tiles equally sized float images left-to-right, top-to-bottom.
    ///
    /// There are `padding` background pixels around and between every cell, so
    /// the width is `columns * imageWidth + (columns + 1) * padding` and the height
    /// is `rows * imageHeight + (rows + 1) * padding` with
    /// `rows = ceil(images.count / columns)` (at least 1, so the result is never empty).
    /// - Parameters:
    ///   - images: Each row-major `imageHeight * imageWidth * channels` floats in [0, 1].
    ///   - channels: 1 or 3; also the channel count of the result.
    static func grid(images: [[Float]], imageHeight: Int, imageWidth: Int, channels: Int,
                            columns: Int, padding: Int = 2, background: UInt8 = 255) -> RasterImage {
        precondition(columns > 0 && padding >= 0, "RasterImage.grid: columns must be > 0 and padding >= 0")
        let rows = max(1, (images.count + columns - 1) / columns)
        var image = RasterImage(width: columns * imageWidth + (columns + 1) * padding,
                                height: rows * imageHeight + (rows + 1) * padding,
                                channels: channels, background: background)
        for (i, values) in images.enumerated() {
            let col = i % columns, row = i / columns
            image.paste(values, width: imageWidth, height: imageHeight, channels: channels,
                        atX: padding + col * (imageWidth + padding), y: padding + row * (imageHeight + padding))
        }
        return image
    }

    /// Maps a [0, 1] float to a byte with rounding and clamping.
    static func byte(_ value: Float) -> UInt8 {
        let scaled = (value * 255).rounded()
        guard !scaled.isNaN else { return 0 }
        return UInt8(min(max(scaled, 0), 255))
    }

    private func index(x: Int, y: Int, channel: Int) -> Int {
        precondition(x >= 0 && x < width && y >= 0 && y < height && channel >= 0 && channel < channels,
                     "RasterImage: (\(x), \(y), \(channel)) out of bounds")
        return (y * width + x) * channels + channel
    }
}
