// JSON: the one way this project writes and reads JSON: Codable types through JSONEncoder and JSONDecoder,
// keys sorted so files diff cleanly, slashes unescaped so paths read as typed.

import Foundation

public enum JSON {
    /// `value` as one line of JSON, without a newline.
    public static func line(_ value: some Encodable) throws -> String {
        String(decoding: try encoder(pretty: false).encode(value), as: UTF8.self)
    }

    /// `value` as indented JSON, for files people read (state.json, the report's config).
    public static func pretty(_ value: some Encodable) throws -> Data { try encoder(pretty: true).encode(value) }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T { try JSONDecoder().decode(type, from: data) }

    private static func encoder(pretty: Bool) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

extension KeyedEncodingContainer {
    /// Writes `value`, or null when it is not finite: JSON has no NaN or infinity, and JSONEncoder throws on them.
    public mutating func encodeNumberOrNull<T: BinaryFloatingPoint & Encodable>(_ value: T, forKey key: Key) throws {
        if value.isFinite { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}

/// A tree of Swift values as JSON has them (String, Bool, Int, Double, arrays and dictionaries with String keys
/// of them), encodable: the config's settings in state.json.
public struct JSONTree: Encodable {
    public let value: Any

    public init(_ value: Any) { self.value = value }

    public func encode(to encoder: Encoder) throws {
        switch value {
        case let map as [String: Any]:
            var c = encoder.container(keyedBy: Key.self)
            for (key, value) in map { try c.encode(JSONTree(value), forKey: Key(stringValue: key)) }
        case let list as [Any]:
            var c = encoder.unkeyedContainer()
            for value in list { try c.encode(JSONTree(value)) }
        case let bool as Bool:
            var c = encoder.singleValueContainer()
            try c.encode(bool)
        case let int as Int:
            var c = encoder.singleValueContainer()
            try c.encode(int)
        case let double as Double:
            var c = encoder.singleValueContainer()
            try c.encode(double)
        case let string as String:
            var c = encoder.singleValueContainer()
            try c.encode(string)
        default:
            throw EncodingError.invalidValue(value, .init(codingPath: encoder.codingPath, debugDescription: "not a JSON value"))
        }
    }

    private struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}
