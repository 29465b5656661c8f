// AttributeTable: CelebA's per-image attributes (1 present, −1 absent), from the book's CSV (a header
// `image_id,5_o_Clock_Shadow,…`, then `000001.jpg,-1,1,…`) or the original list_attr_celeba.txt (a count
// line, a line of attribute names, then `000001.jpg -1  1 …`, separated by spaces).

import Foundation
import VAESupport

public struct AttributeTable {
    public let path: String
    public let attributes: [String]
    /// The images' file names, in the file's order, and each one's values, attribute by attribute.
    public let images: [String]
    private let values: [[Bool]]

    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw VAEError("\(path): cannot read the attributes file") }
        try self.init(data, path: path)
    }

    /// Parses the bytes of an attributes file; `path` names it in errors, now and in `split(by:)`'s.
    public init(_ data: Data, path: String) throws {
        guard let text = String(data: data, encoding: .utf8) else { throw VAEError("\(path): the attributes file is not UTF-8 text") }
        var lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let csv = lines.first?.hasPrefix("image_id,") ?? false
        if !csv, let first = lines.first, Int(first) != nil { lines.removeFirst() }  // the .txt's count line
        guard let header = lines.first else { throw VAEError("\(path): no attribute names (expected a CSV with image_id, or list_attr_celeba.txt)") }
        func fields(_ line: String) -> [String] {
            csv ? line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : line.split(separator: " ").map(String.init)
        }
        attributes = Array(fields(header).dropFirst(csv ? 1 : 0))
        var images: [String] = [], values: [[Bool]] = []
        for (number, line) in lines.dropFirst().enumerated() {
            let row = fields(line)
            guard row.count == attributes.count + 1 else {
                throw VAEError("\(path): line \(number + (csv ? 2 : 3)) has \(row.count - 1) values for \(attributes.count) attributes")
            }
            let flags = row.dropFirst().map { ["1": true, "-1": false][$0] }
            guard !flags.contains(nil) else { throw VAEError("\(path): line \(number + (csv ? 2 : 3)): attribute values must be 1 or -1") }
            images.append(row[0])
            values.append(flags.map { $0! })
        }
        self.path = path
        self.images = images
        self.values = values
    }

    /// The images that have `attribute`, and those that do not, in the file's order.
    public func split(by attribute: String) throws -> (with: [String], without: [String]) {
        guard let column = attributes.firstIndex(of: attribute) else {
            throw VAEError("\(path): no attribute \(attribute) (it has \(attributes.prefix(8).joined(separator: ", "))\(attributes.count > 8 ? ", …" : ""))")
        }
        var with: [String] = [], without: [String] = []
        for (image, row) in zip(images, values) {
            if row[column] { with.append(image) } else { without.append(image) }
        }
        return (with, without)
    }
}
