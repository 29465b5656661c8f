// Safetensors.swift
// Reads and writes the safetensors checkpoint format
// (https://github.com/huggingface/safetensors), F32 tensors only:
//   [8-byte little-endian header length N][N bytes JSON header, space-padded][raw data]
// Encoding is byte-deterministic so identical weights give identical files
// (and identical SHA-256 fingerprints) on every rank and every run.

import Foundation
import VAEMath
import VAESupport

// Tensor data is copied to and from memory as-is, which is only correct when
// the host byte order matches the format's little-endian layout.
#if _endian(big)
#error("Safetensors.swift assumes a little-endian host")
#endif

/// An in-memory safetensors file holding F32 tensors and string metadata.
public struct SafetensorsFile: Equatable, Sendable {
    /// Tensors in file order; `shape` is row-major and `values.count` equals its product.
    public var tensors: [(name: String, shape: [Int], values: [Float])]
    /// The optional `__metadata__` string map.
    public var metadata: [String: String]

    /// Creates a file from tensors (kept in the given order) and metadata.
    public init(tensors: [(name: String, shape: [Int], values: [Float])] = [], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Returns the first tensor called `name`, if any.
    public func tensor(named name: String) -> (shape: [Int], values: [Float])? {
        tensors.first { $0.name == name }.map { ($0.shape, $0.values) }
    }

    public static func == (lhs: SafetensorsFile, rhs: SafetensorsFile) -> Bool {
        lhs.metadata == rhs.metadata && lhs.tensors.elementsEqual(rhs.tensors) {
            $0.name == $1.name && $0.shape == $1.shape && $0.values == $1.values
        }
    }

    // MARK: Encoding

    /// Serialises the file: `__metadata__` first (keys sorted), then the tensors in order, so equal inputs give
    /// byte-identical output. JSONEncoder writes every name, string and array; the objects around them are
    /// joined here, because JSONEncoder keeps an object's keys in a fixed order only by sorting them.
    /// Throws if a name is empty, duplicated or `__metadata__`, or a shape does not match its values.
    public func encoded() throws -> [UInt8] {
        var fields: [(key: String, value: String)] = []
        if !metadata.isEmpty { fields.append(("__metadata__", try JSON.line(metadata))) }
        var seen = Set<String>()
        var offset = 0
        for t in tensors {
            guard !t.name.isEmpty, t.name != "__metadata__", seen.insert(t.name).inserted else {
                throw VAEError("safetensors: invalid or duplicate tensor name \(String(reflecting: t.name))")
            }
            guard let count = Self.elementCount(t.shape), count == t.values.count else {
                throw VAEError(
                    "safetensors: tensor \(String(reflecting: t.name)) has shape \(t.shape) but \(t.values.count) values")
            }
            let end = offset + 4 * count
            fields.append((t.name, try Self.jsonObject([("dtype", JSON.line("F32")), ("shape", JSON.line(t.shape)),
                                                        ("data_offsets", JSON.line([offset, end]))])))
            offset = end
        }
        var headerBytes = Array(try Self.jsonObject(fields).utf8)
        // Pad like the reference implementation so the data section starts 8-byte aligned.
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8))

        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for t in tensors {
            t.values.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Writes the file atomically and durably (temp file, fsync, rename; see `DurableFiles.write`).
    public func write(to path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try encoded()
        } catch let error as VAEError {
            throw VAEError("\(path): \(error.message)")
        }
        try DurableFiles.write(bytes, to: path)
    }

    // MARK: Decoding

    /// Reads and validates the safetensors file at `path`.
    public init(contentsOf path: String) throws {
        try self.init(bytes: DurableFiles.read(path), source: path)
    }

    /// Parses and fully validates `bytes`; `source` (usually a path) prefixes every error message.
    public init(bytes: [UInt8], source: String) throws {
        func fail(_ what: String) -> VAEError { VAEError("\(source): invalid safetensors file: \(what)") }

        guard bytes.count >= 8 else { throw fail("only \(bytes.count) bytes, too short for the 8-byte header length") }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) exceeds the \(bytes.count - 8) bytes after the length field")
        }
        let dataStart = 8 + Int(headerLength)
        let dataLength = bytes.count - dataStart
        // JSONSerialization rather than JSONDecoder, which reads 1.0 and 1e0 as the integer 1: shapes and offsets
        // must be written as integers.
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart]))
        } catch {
            throw fail("header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }

        var metadata: [String: String] = [:]
        var entries: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (key, item) in map {
                    guard let text = item as? String else {
                        throw fail("__metadata__ value for \(String(reflecting: key)) is not a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            let quoted = String(reflecting: name)
            guard let entry = value as? [String: Any] else { throw fail("entry for tensor \(quoted) is not an object") }
            guard let dtype = entry["dtype"] as? String else { throw fail("tensor \(quoted) has no string \"dtype\"") }
            guard dtype == "F32" else { throw fail("tensor \(quoted) has dtype \(dtype); only F32 is supported") }
            guard let shape = Self.indexArray(entry["shape"]) else {
                throw fail("tensor \(quoted) has no valid \"shape\" (array of non-negative integers)")
            }
            guard let offsets = Self.indexArray(entry["data_offsets"]), offsets.count == 2 else {
                throw fail("tensor \(quoted) has no valid \"data_offsets\" (two non-negative integers)")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end, end <= dataLength else {
                throw fail("tensor \(quoted) data_offsets [\(begin), \(end)] out of range for a \(dataLength)-byte data section")
            }
            guard let count = Self.elementCount(shape), end - begin == 4 * count else {
                throw fail("tensor \(quoted) spans \(end - begin) bytes but shape \(shape) needs 4 bytes per element")
            }
            entries.append((name, shape, begin, end))
        }

        // File order is data order; ties (zero-size tensors) are broken by name for determinism.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var covered = 0
        for e in entries {
            guard e.begin == covered else {
                throw fail(e.begin < covered
                    ? "tensor \(String(reflecting: e.name)) overlaps the previous tensor at byte \(e.begin)"
                    : "gap in data section before tensor \(String(reflecting: e.name)) at byte \(covered)")
            }
            covered = e.end
        }
        guard covered == dataLength else {
            throw fail("tensors cover \(covered) bytes but the data section is \(dataLength) bytes")
        }

        self.metadata = metadata
        self.tensors = bytes.withUnsafeBytes { raw in
            entries.map { e in
                let values = [Float](unsafeUninitializedCapacity: (e.end - e.begin) / 4) { buffer, initialized in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin)..<(dataStart + e.end)]))
                    initialized = buffer.count
                }
                return (e.name, e.shape, values)
            }
        }
    }

    // MARK: Helpers

    /// Product of `shape`, or nil if a dimension is negative or the byte size would overflow.
    private static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dim in shape {
            guard dim >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= Int.max / 4 else { return nil }
            count = product
        }
        return count
    }

    /// Decodes a JSON array of non-negative integers. Foundation bridges `true` and
    /// `4.0` to Int, so booleans (objCType "c") and floating-point numbers are rejected first.
    private static func indexArray(_ value: Any?) -> [Int]? {
        guard let items = value as? [Any] else { return nil }
        var result: [Int] = []
        for item in items {
            guard let number = item as? NSNumber, !["c", "f", "d"].contains(String(cString: number.objCType)),
                  let n = item as? Int, n >= 0 else { return nil }
            result.append(n)
        }
        return result
    }

    /// A JSON object of `fields` in their order; each value is JSON already.
    private static func jsonObject(_ fields: [(key: String, value: String)]) throws -> String {
        "{" + (try fields.map { try JSON.line($0.key) + ":" + $0.value }).joined(separator: ",") + "}"
    }
}
