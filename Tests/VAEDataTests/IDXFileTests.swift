// The IDX reader on small files written here: valid raw and gzipped, truncated, wrong magic,
// wrong dimensions, trailing bytes, missing files and corrupt gzip.

import Foundation
import TestSupport
import Testing
import VAEData
import VAEMath
import VAETraining

@Suite struct IDXFileTests {
    let directory = temporaryDirectory()

    @Test func readsRawAndGzippedAlike() throws {
        let file = imageFile(count: 3, height: 4, width: 5)
        let raw = write(file.encoded, to: directory.appendingPathComponent("images.idx"))
        #expect(try IDXFile(contentsOf: raw) == file)
        #expect(try IDXFile(contentsOf: gzip(raw)) == file)
        let data = try ImageDataset(path: gzip(raw))
        #expect(data.count == 3 && data.imageShape == [4, 5, 1])
        let batch = Tensor(batch: 0, itemShape: [4, 5, 1])
        data.gather([2, 0], into: batch)
        #expect(batch.batch == 2)
        #expect(batch[0] == Float(file.bytes[40]) / 255 && batch[20] == Float(file.bytes[0]) / 255)
    }

    @Test func limitKeepsTheFirstImages() throws {
        let path = write(imageFile(count: 10, height: 2, width: 2).encoded, to: directory.appendingPathComponent("ten"))
        #expect(try ImageDataset(path: path, limit: 4).count == 4)
        #expect(try ImageDataset(path: path, limit: 40).count == 10)
    }

    @Test func truncatedData() {
        let bytes = imageFile(count: 3, height: 4, width: 5).encoded
        let path = write(Array(bytes.dropLast(7)), to: directory.appendingPathComponent("short"))
        #expect(expectVAEError(path, "truncated", "60 bytes", "found 53") { _ = try IDXFile(contentsOf: path) } == nil)
        let header = write(Array(bytes[0..<9]), to: directory.appendingPathComponent("header"))
        #expect(expectVAEError(header, "truncated IDX header") { _ = try IDXFile(contentsOf: header) } == nil)
    }

    @Test func wrongMagic() {
        var bytes = imageFile(count: 1, height: 2, width: 2).encoded
        bytes[0] = 0x1F
        let path = write(bytes, to: directory.appendingPathComponent("magic"))
        #expect(expectVAEError(path, "not an IDX file", "1F 00") { _ = try IDXFile(contentsOf: path) } == nil)
        let text = write(Array("hello, world\n".utf8), to: directory.appendingPathComponent("text"))
        #expect(expectVAEError(text, "not an IDX file") { _ = try IDXFile(contentsOf: text) } == nil)
        bytes[0] = 0
        bytes[2] = 0x0D
        let floats = write(bytes, to: directory.appendingPathComponent("floats"))
        #expect(expectVAEError(floats, "element type 0D") { _ = try IDXFile(contentsOf: floats) } == nil)
    }

    @Test func wrongDimensions() {
        let labels = write(IDXFile(dimensions: [6], bytes: [1, 2, 3, 4, 5, 6]).encoded, to: directory.appendingPathComponent("labels"))
        #expect(expectVAEError(labels, "not a set of images") { _ = try ImageDataset(path: labels) } == nil)
        let zero = write([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2], to: directory.appendingPathComponent("zero"))
        #expect(expectVAEError(zero, "include zero") { _ = try IDXFile(contentsOf: zero) } == nil)
        let many = write([0, 0, 8, 9], to: directory.appendingPathComponent("many"))
        #expect(expectVAEError(many, "9 dimensions") { _ = try IDXFile(contentsOf: many) } == nil)
        let trailing = write(imageFile(count: 1, height: 2, width: 2).encoded + [0, 0], to: directory.appendingPathComponent("trailing"))
        #expect(expectVAEError(trailing, "2 bytes after the data") { _ = try IDXFile(contentsOf: trailing) } == nil)
    }

    @Test func missingAndCorruptFiles() {
        let missing = directory.appendingPathComponent("absent.gz").path
        #expect(expectVAEError(missing, "no such data file") { _ = try IDXFile(contentsOf: missing) } == nil)
        let raw = write(imageFile(count: 50, height: 28, width: 28).encoded, to: directory.appendingPathComponent("big"))
        var zipped = [UInt8](FileManager.default.contents(atPath: gzip(raw))!)
        for i in stride(from: 100, to: zipped.count - 20, by: 97) { zipped[i] ^= 0x5A }
        let corrupt = write(zipped, to: directory.appendingPathComponent("corrupt.gz"))
        #expect(expectVAEError(corrupt, "corrupt") { _ = try IDXFile(contentsOf: corrupt) } == nil)
    }
}
