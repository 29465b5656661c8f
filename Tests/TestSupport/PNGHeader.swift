// What a test reads of a PNG without decoding it: the IHDR chunk, which follows the 8-byte signature and
// the chunk's length and type.

import Foundation
import VAEData

private func header(_ path: String) -> [UInt8]? {
    guard let bytes = FileManager.default.contents(atPath: path).map(Array.init), bytes.count >= 26,
          bytes[0..<8].elementsEqual(ImageDecoder.pngSignature),
          String(decoding: bytes[12..<16], as: UTF8.self) == "IHDR" else { return nil }
    return Array(bytes[16..<26])
}

/// Width and height.
public func pngSize(_ path: String) -> (width: Int, height: Int)? {
    guard let ihdr = header(path) else { return nil }
    let number = { (at: Int) in ihdr[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
    return (number(0), number(4))
}

/// 0 grey, 2 RGB, 3 palette, 4 grey and alpha, 6 RGB and alpha.
public func pngColourType(_ path: String) -> Int? { header(path).map { Int($0[9]) } }
