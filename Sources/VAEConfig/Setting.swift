// Setting: one config key, declared once where its section declares the property, as swift-argument-parser's
// @Option is:
//   @Setting("batch_size", "The global batch: summed over all ranks.", .positive) public var batchSize = 32
// The property's initial value is the default; the key (a path within the section), the rule and the line of
// documentation sit beside it. The reader, `vae config`, state.json and docs/config.md all come from these
// declarations (SettingsCatalog), so nothing about a setting is written anywhere else.

import Foundation
import VAESupport

@propertyWrapper
public struct Setting<Value: SettingValue>: Sendable {
    public var wrappedValue: Value
    let info: SettingInfo<Value>

    public init(wrappedValue: Value, _ key: String, _ doc: String, _ rule: Rule<Value> = .any) {
        self.wrappedValue = wrappedValue
        info = SettingInfo(key: key, doc: doc, rule: rule)
    }
}

/// What a setting's declaration says besides its default.
struct SettingInfo<Value: SettingValue>: Sendable {
    let key: String
    let doc: String
    let rule: Rule<Value>
}

/// The values a setting allows beyond its type, and how the reference says so.
public struct Rule<Value>: Sendable {
    /// "a positive integer", "in (0, 1]": what the error and the reference say is allowed; empty: any value of the type.
    let text: String
    /// Throws a VAEError naming `key` when `value` is not allowed.
    let check: @Sendable (_ value: Value, _ key: String) throws -> Void

    public init(_ text: String, _ allows: @escaping @Sendable (Value) -> Bool) {
        self.text = text
        check = { value, key in
            guard allows(value) else { throw VAEError("\(key): \(value) is not allowed: must be \(text)") }
        }
    }

    private init(text: String, check: @escaping @Sendable (Value, String) throws -> Void) {
        self.text = text
        self.check = check
    }

    public static var any: Rule { Rule(text: "", check: { _, _ in }) }

    /// A non-empty list (of `count` elements, if given), each allowed by `element`; errors name the element.
    public static func each<Element>(_ element: Rule<Element>, count: Int? = nil) -> Rule where Value == [Element] {
        Rule(text: (count.map { "\($0) numbers" } ?? "a non-empty list") + ", each " + element.text) { list, key in
            if let count, list.count != count { throw VAEError("\(key): expected \(count) numbers, found \(list.count)") }
            guard !list.isEmpty else { throw VAEError("\(key): expected a non-empty list") }
            for (index, value) in list.enumerated() { try element.check(value, "\(key)[\(index)]") }
        }
    }
}

extension Rule where Value == Int {
    public static var positive: Rule { Rule("a positive integer") { $0 > 0 } }
    public static var nonNegative: Rule { Rule("a non-negative integer") { $0 >= 0 } }
    /// 0 turns the thing off; `what` says what a positive value counts.
    public static func offOrPositive(_ what: String = "a positive integer") -> Rule { Rule("0 (off) or \(what)") { $0 >= 0 } }
}

extension Rule where Value == Double {
    public static var positive: Rule { Rule("positive") { $0 > 0 && $0.isFinite } }
    public static func offOrPositive(_ what: String = "a positive number") -> Rule { Rule("0 (off) or \(what)") { $0 >= 0 && $0.isFinite } }
}

/// A type a setting can hold: how YAML's text becomes it, how it is written back, and how the reference names it.
public protocol SettingValue: Sendable, Equatable, Decodable {
    /// The value a YAML scalar or list holds; throws a VAEError naming `key` when it holds something else.
    static func read(_ tree: ConfigTree, key: String) throws -> Self
    /// As YAML writes it, on one line.
    var yaml: String { get }
    /// As JSONSerialization takes it.
    var json: Any { get }
    /// "an integer", "one of stretch, center_crop": what the reference and errors call the type.
    static var kind: String { get }
}

/// A setting whose YAML is one scalar.
public protocol ScalarSetting: SettingValue {
    init?(scalar: String)
}

extension ScalarSetting {
    public static func read(_ tree: ConfigTree, key: String) throws -> Self {
        guard case .scalar(let text) = tree, let value = Self(scalar: text) else {
            throw VAEError("\(key): expected \(kind), found \(tree.summary)")
        }
        return value
    }
}

extension Int: ScalarSetting {
    public init?(scalar: String) { self.init(scalar) }
    public var yaml: String { String(self) }
    public var json: Any { self }
    public static var kind: String { "an integer" }
}

extension Double: ScalarSetting {
    public init?(scalar: String) { self.init(scalar) }
    /// The shortest text that reads back as the same Double, without a needless ".0".
    public var yaml: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : "\(self)" }
    public var json: Any { self }
    public static var kind: String { "a number" }
}

extension Bool: ScalarSetting {
    public init?(scalar: String) {
        guard let value = ["true": true, "false": false][scalar.lowercased()] else { return nil }
        self = value
    }
    public var yaml: String { String(self) }
    public var json: Any { self }
    public static var kind: String { "true or false" }
}

extension String: ScalarSetting {
    public init?(scalar: String) { self = scalar }
    /// Bare where YAML reads the bare text back as this string; otherwise quoted as JSON, which YAML reads alike.
    public var yaml: String {
        let plain = !isEmpty && allSatisfy { $0.isLetter || $0.isNumber || "/._-+".contains($0) } && Double(self) == nil
            && !["true", "false", "null", "yes", "no", "on", "off", "y", "n"].contains(lowercased())
        return plain ? self : (try? String(decoding: JSONSerialization.data(withJSONObject: self, options: .fragmentsAllowed), as: UTF8.self)) ?? "\"\""
    }
    public var json: Any { self }
    public static var kind: String { "a string" }
}

extension Array: SettingValue where Element: ScalarSetting {
    public static func read(_ tree: ConfigTree, key: String) throws -> Self {
        guard case .list(let items) = tree else { throw VAEError("\(key): expected \(kind), found \(tree.summary)") }
        return try items.enumerated().map { index, item in try Element.read(item, key: "\(key)[\(index)]") }
    }
    public var yaml: String { "[" + map(\.yaml).joined(separator: ", ") + "]" }
    public var json: Any { map(\.json) }
    public static var kind: String { "a list of " + Element.kind.replacing(#/^an? /#, with: "") + "s" }
}

/// An enumeration read by its raw value: `extension ConvolutionBackend: ChoiceSetting {}`.
public protocol ChoiceSetting: SettingValue, RawRepresentable, CaseIterable where RawValue == String {}

extension ChoiceSetting {
    public static func read(_ tree: ConfigTree, key: String) throws -> Self {
        guard case .scalar(let text) = tree, let value = Self(rawValue: text) else {
            throw VAEError("\(key): expected \(kind), found \(tree.summary)")
        }
        return value
    }
    public var yaml: String { rawValue }
    public var json: Any { rawValue }
    public static var kind: String { "one of " + allCases.map(\.rawValue).joined(separator: ", ") }
}

extension Setting: Equatable {
    public static func == (a: Setting, b: Setting) -> Bool { a.wrappedValue == b.wrappedValue }
}

extension Setting: Decodable {
    /// Only the reader decodes settings (SettingsCatalog): it hands every declaration over in `userInfo`,
    /// so that a decoded setting keeps its key, rule and documentation beside the value read.
    public init(from decoder: Decoder) throws {
        guard let declared = (decoder.userInfo[SettingsCatalog.declarations] as? SettingsCatalog.Declarations)?
                .byPath[decoder.codingPath.map(\.stringValue).joined(separator: ".")] as? Setting else {
            throw VAEError("the config's \(decoder.codingPath.map(\.stringValue).joined(separator: ".")) was read without its declaration")
        }
        self = declared
        wrappedValue = try decoder.singleValueContainer().decode(Value.self)
    }
}
