// Helpers the training tests share: small IDX files written on the spot, a held-out set, PNG sizes and VAEError checks.

import Foundation
import TestSupport
import VAEData
import VAEReport
import VAESupport
import VAETraining

@discardableResult
func write(_ bytes: [UInt8], to url: URL) -> String {
    try! Data(bytes).write(to: url)
    return url.path
}

/// gzip-compresses with the system's gzip, as the data sets are shipped.
func gzip(_ path: String) -> String {
    _ = try! runProcess(["/bin/gzip", "-kf", path])
    return path + ".gz"
}

/// `count` images of `height`×`width`, pixel values a simple function of position.
func imageFile(count: Int, height: Int = 28, width: Int = 28) -> IDXFile {
    IDXFile(dimensions: [count, height, width], bytes: (0..<(count * height * width)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
}

/// Expects `body` to throw a VAEError whose message contains every fragment.
func expectVAEError(_ fragments: String..., body: () throws -> Void) -> String? {
    do { try body() } catch let error as VAEError {
        return fragments.allSatisfy { error.message.contains($0) } ? nil : "message lacks \(fragments): \(error.message)"
    } catch { return "unexpected error \(error)" }
    return "no error thrown"
}

let fashionTrain = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

/// A small held-out set (`count` images, labels cycling through 0–9), so runs write their samples quickly.
func smallTestSet(in directory: URL, count: Int = 40) -> (images: String, labels: String) {
    (write(imageFile(count: count).encoded, to: directory.appendingPathComponent("test-images")),
     write(IDXFile(dimensions: [count], bytes: (0..<count).map { UInt8($0 % 10) }).encoded, to: directory.appendingPathComponent("test-labels")))
}

/// Width and height from a PNG's IHDR chunk, which follows the 8-byte signature and the chunk's length and type.
func pngSize(_ path: String) -> (width: Int, height: Int)? {
    guard let bytes = FileManager.default.contents(atPath: path).map(Array.init), bytes.count >= 24,
          bytes[0..<8].elementsEqual(PNG.signature), String(decoding: bytes[12..<16], as: UTF8.self) == "IHDR" else { return nil }
    let number = { (at: Int) in bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
    return (number(16), number(20))
}
