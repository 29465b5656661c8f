// SafetensorsTests.swift
// Round-trip, byte-determinism, header-layout and corrupt-input tests for SafetensorsFile.

import Foundation
import TestSupport
import Testing
@testable import VAECheckpoint
@testable import VAESupport
@testable import VAETraining

/// Assembles a file from a literal header and data section, bypassing the encoder's checks.
private func rawFile(header: String, data: [UInt8]) -> [UInt8] {
    let h = Array(header.utf8)
    return withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + data
}

/// Several shapes (matrix, vector, scalar, 4-D, zero-size) with awkward float values and names.
private func sampleFile() -> SafetensorsFile {
    SafetensorsFile(
        tensors: [
            ("encoder.conv1.weight", [2, 3], [1, -2, 3.5, -0.0, .infinity, .nan]),
            ("encoder.conv1.bias", [4], [Float.leastNonzeroMagnitude, .greatestFiniteMagnitude, 0, 1e-3]),
            ("step_scale", [], [0.25]),
            ("empty", [0, 5], []),
            ("decoder.\"quoted\"\\name/µ", [1, 2, 2, 1], [9, 8, 7, 6]),
        ],
        metadata: ["format": "pt", "note": "line1\nline2\t\"q\" \\ \u{01} µ", "step": "1200"])
}

/// Compares tensors by value bit patterns so NaN and -0.0 are checked exactly.
private func expectBitIdentical(_ a: SafetensorsFile, _ b: SafetensorsFile) {
    #expect(a.metadata == b.metadata)
    #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
    #expect(a.tensors.map(\.shape) == b.tensors.map(\.shape))
    #expect(a.tensors.map { $0.values.map(\.bitPattern) } == b.tensors.map { $0.values.map(\.bitPattern) })
}

/// Asserts that decoding `bytes` throws a VAEError naming the source and containing `fragment`.
private func expectRejected(_ bytes: [UInt8], mentioning fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let source = "/ckpt/run-7/step-000120.safetensors"
    do {
        _ = try SafetensorsFile(bytes: bytes, source: source)
        Issue.record("expected rejection mentioning \(fragment)", sourceLocation: sourceLocation)
    } catch let error as VAEError {
        #expect(error.message.contains(source), "\(error.message)", sourceLocation: sourceLocation)
        #expect(error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
        #expect(!error.message.contains("\n"), "message should be one line", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
    }
}

struct SafetensorsTests {
    @Test func roundTripThroughDisk() throws {
        let dir = temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors"
        let original = sampleFile()
        try original.write(to: path)
        let loaded = try SafetensorsFile(contentsOf: path)
        expectBitIdentical(original, loaded)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))

        let bias = try #require(loaded.tensor(named: "encoder.conv1.bias"))
        #expect(bias.shape == [4])
        #expect(bias.values[3] == 1e-3)
        #expect(loaded.tensor(named: "missing") == nil)
    }

    @Test func encodingIsDeterministic() throws {
        let first = try sampleFile().encoded()
        #expect(try sampleFile().encoded() == first)
        // Metadata built in a different insertion order must still give identical bytes.
        var reordered = sampleFile()
        reordered.metadata = [:]
        for key in ["step", "note", "format"] { reordered.metadata[key] = sampleFile().metadata[key] }
        #expect(try reordered.encoded() == first)
        // Decoding and re-encoding reproduces the file exactly.
        #expect(try SafetensorsFile(bytes: first, source: "mem").encoded() == first)
    }

    /// Pins the exact header text so format drift is caught, not just self-consistency.
    @Test func goldenHeader() throws {
        let file = SafetensorsFile(tensors: [("a", [1], [1.0])], metadata: ["k": "v"])
        let bytes = try file.encoded()
        let json = #"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let padded = json + String(repeating: " ", count: (8 - json.utf8.count % 8) % 8)
        #expect(bytes == rawFile(header: padded, data: [0x00, 0x00, 0x80, 0x3f]))
        // Without metadata the key is omitted entirely.
        let bare = try SafetensorsFile(tensors: [("a", [1], [1.0])]).encoded()
        #expect(String(decoding: bare[8...], as: UTF8.self).hasPrefix(#"{"a":"#))
        // Names are JSON strings: quotes and backslashes escaped, slashes and non-ASCII as they are.
        let named = try SafetensorsFile(tensors: [("dec/\"q\"\\µ", [], [1.0])]).encoded()
        #expect(String(decoding: named[8...], as: UTF8.self).hasPrefix(#"{"dec/\"q\"\\µ":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#))
    }

    @Test func headerLayoutIsConsistent() throws {
        let file = sampleFile()
        let bytes = try file.encoded()
        let headerLength = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        #expect(headerLength % 8 == 0)
        #expect(8 + headerLength <= bytes.count)
        let headerBytes = Array(bytes[8..<(8 + headerLength)])
        let headerText = String(decoding: headerBytes, as: UTF8.self)
        #expect(headerText.hasPrefix("{"))
        #expect(headerText.reversed().drop { $0 == " " }.first == "}", "padding must be trailing spaces only")

        let header = try #require(try JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any])
        #expect(header["__metadata__"] as? [String: String] == file.metadata)
        var expectedBegin = 0
        for t in file.tensors {
            let entry = try #require(header[t.name] as? [String: Any])
            #expect(entry["dtype"] as? String == "F32")
            #expect(entry["shape"] as? [Int] == t.shape)
            let offsets = try #require(entry["data_offsets"] as? [Int])
            #expect(offsets == [expectedBegin, expectedBegin + 4 * t.shape.reduce(1, *)])
            expectedBegin = offsets[1]
        }
        #expect(header.count == file.tensors.count + 1)
        #expect(expectedBegin == bytes.count - 8 - headerLength)
    }

    @Test func encoderRejectsInconsistentTensors() {
        #expect(throws: VAEError.self) { try SafetensorsFile(tensors: [("a", [2, 2], [1, 2, 3])]).encoded() }
        #expect(throws: VAEError.self) { try SafetensorsFile(tensors: [("a", [-1], [])]).encoded() }
        #expect(throws: VAEError.self) { try SafetensorsFile(tensors: [("a", [1], [1]), ("a", [1], [2])]).encoded() }
        #expect(throws: VAEError.self) { try SafetensorsFile(tensors: [("__metadata__", [1], [1])]).encoded() }
    }

    @Test func corruptInputsAreRejected() throws {
        let good = try sampleFile().encoded()
        let headerLength = Int(good[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })

        expectRejected([], mentioning: "too short")
        expectRejected(Array(good[0..<5]), mentioning: "too short")
        expectRejected(Array(good[0..<(good.count - 3)]), mentioning: "out of range")
        expectRejected(Array(good[0..<(8 + headerLength / 2)]), mentioning: "exceeds")
        expectRejected(rawFile(header: "{", data: []), mentioning: "not valid JSON")
        expectRejected(rawFile(header: "[1, 2]", data: []), mentioning: "not a JSON object")

        var flipped = good
        flipped[8] ^= 0x01  // "{" becomes "z"
        expectRejected(flipped, mentioning: "not valid JSON")

        let f16 = rawFile(header: #"{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        expectRejected(f16, mentioning: "dtype F16")
        expectRejected(rawFile(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), mentioning: "dtype")
        expectRejected(rawFile(header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), mentioning: "shape")
        expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]), mentioning: "data_offsets")
        expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), mentioning: "shape")
        expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), mentioning: "shape")
        expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}}"#, data: [0, 0, 0, 0]), mentioning: "data_offsets")
        expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]), mentioning: "out of range")
        expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]), mentioning: "out of range")
        expectRejected(rawFile(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), mentioning: "4 bytes per element")
        expectRejected(rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)), mentioning: "overlaps")
        expectRejected(rawFile(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)), mentioning: "gap")
        expectRejected(rawFile(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: Array(repeating: 0, count: 8)), mentioning: "data section is 8 bytes")
        expectRejected(rawFile(header: #"{"__metadata__":{"k":1}}"#, data: []), mentioning: "__metadata__")
    }

    @Test func readErrorsNameThePath() throws {
        let dir = temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = dir + "/missing.safetensors"
        do {
            _ = try SafetensorsFile(contentsOf: missing)
            Issue.record("expected an error")
        } catch let error as VAEError {
            #expect(error.message.contains(missing))
        }

        let corrupt = dir + "/corrupt.safetensors"
        try DurableFiles.write(Array(try sampleFile().encoded().dropLast()), to: corrupt)
        do {
            _ = try SafetensorsFile(contentsOf: corrupt)
            Issue.record("expected an error")
        } catch let error as VAEError {
            #expect(error.message.hasPrefix(corrupt + ":"))
        }
    }
}
