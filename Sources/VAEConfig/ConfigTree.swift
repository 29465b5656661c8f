// ConfigTree: the YAML document as a plain tree, `--set key.path=value` overrides applied to it, and a
// reader that pulls typed values out by key path, so every error names the key (`model.z_dim: …`) and
// every key the reader did not ask for is reported as unknown.

import Foundation
import VAESupport
import Yams

public indirect enum ConfigTree: Equatable {
    case scalar(String)
    case null
    case list([ConfigTree])
    case map([(key: String, value: ConfigTree)])

    public static func == (a: ConfigTree, b: ConfigTree) -> Bool {
        switch (a, b) {
        case let (.scalar(x), .scalar(y)): x == y
        case (.null, .null): true
        case let (.list(x), .list(y)): x == y
        case let (.map(x), .map(y)): x.map(\.key) == y.map(\.key) && x.map(\.value) == y.map(\.value)
        default: false
        }
    }

    /// Parses YAML text; `source` names it in errors.
    public static func parse(yaml: String, source: String) throws -> ConfigTree {
        let node: Node?
        do { node = try Yams.compose(yaml: yaml) } catch {
            let firstLine = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            let reason = firstLine.replacingOccurrences(of: "error: ", with: "").trimmingCharacters(in: CharacterSet(charactersIn: ": "))
            throw VAEError("\(source): not valid YAML: \(reason)")
        }
        return try node.map { try tree(from: $0, source: source, path: "") } ?? .map([])
    }

    private static func tree(from node: Node, source: String, path: String) throws -> ConfigTree {
        switch node {
        case .scalar(let scalar): return node.null != nil ? .null : .scalar(scalar.string)
        case .sequence(let items): return .list(try items.map { try tree(from: $0, source: source, path: path) })
        case .mapping(let pairs):
            var result: [(key: String, value: ConfigTree)] = []
            for (key, value) in pairs {
                guard let name = key.string else { throw VAEError("\(source): \(path.isEmpty ? "top level" : path): keys must be strings") }
                let child = path.isEmpty ? name : "\(path).\(name)"
                if result.contains(where: { $0.key == name }) { throw VAEError("\(source): \(child): key given twice") }
                result.append((name, try tree(from: value, source: source, path: child)))
            }
            return .map(result)
        case .alias: throw VAEError("\(source): \(path): YAML aliases are not supported")
        }
    }

    /// Applies `key.path=value`; the value is read as YAML, so `[1, 2]` is a list and `3` a number.
    public mutating func override(_ assignment: String) throws {
        guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
            throw VAEError("--set \(assignment): expected key.path=value")
        }
        let keys = assignment[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard keys.allSatisfy({ !$0.isEmpty }) else { throw VAEError("--set \(assignment): empty key in the key path") }
        let value = try ConfigTree.parse(yaml: String(assignment[assignment.index(after: equals)...]), source: "--set \(assignment)")
        try set(keys[...], to: value, path: "")
    }

    private mutating func set(_ keys: ArraySlice<String>, to value: ConfigTree, path: String) throws {
        guard let key = keys.first else { self = value; return }
        let child = path.isEmpty ? key : "\(path).\(key)"
        guard case .map(var pairs) = self else { throw VAEError("--set \(child): \(path) is not a section") }
        if let i = pairs.firstIndex(where: { $0.key == key }) {
            try pairs[i].value.set(keys.dropFirst(), to: value, path: child)
        } else {
            var fresh = ConfigTree.map([])
            try fresh.set(keys.dropFirst(), to: value, path: child)
            pairs.append((key, fresh))
        }
        self = .map(pairs)
    }
}

/// Reads one section; `finish()` rejects keys nobody read.
public final class ConfigSection {
    public let path: String
    private let pairs: [(key: String, value: ConfigTree)]
    private var read: Set<String> = []

    public init(_ tree: ConfigTree, path: String) throws {
        self.path = path
        switch tree {
        case .map(let pairs): self.pairs = pairs
        case .null: self.pairs = []
        default: throw VAEError("\(path.isEmpty ? "the config" : path): expected a section of key: value pairs")
        }
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func value(_ key: String) -> ConfigTree? {
        read.insert(key)
        guard let found = pairs.first(where: { $0.key == key })?.value, found != .null else { return nil }
        return found
    }

    public func section(_ key: String) throws -> ConfigSection { try ConfigSection(value(key) ?? .map([]), path: name(key)) }

    private func scalar<T>(_ key: String, _ tree: ConfigTree, _ kind: String, _ parse: (String) -> T?) throws -> T {
        guard case .scalar(let text) = tree, let parsed = parse(text) else {
            throw VAEError("\(name(key)): expected \(kind), found \(Self.describe(tree))")
        }
        return parsed
    }

    private func checked<T>(_ key: String, _ value: T, _ rule: (T) -> Bool, _ requirement: String) throws -> T {
        guard rule(value) else { throw VAEError("\(name(key)): \(value) is not allowed: must be \(requirement)") }
        return value
    }

    public func int(_ key: String, default fallback: Int, _ requirement: String = "", where rule: (Int) -> Bool = { _ in true }) throws -> Int {
        guard let tree = value(key) else { return fallback }
        return try checked(key, scalar(key, tree, "an integer") { Int($0) }, rule, requirement)
    }

    public func double(_ key: String, default fallback: Double, _ requirement: String = "", where rule: (Double) -> Bool = { _ in true }) throws -> Double {
        guard let tree = value(key) else { return fallback }
        return try checked(key, scalar(key, tree, "a number") { Double($0) }, rule, requirement)
    }

    public func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let tree = value(key) else { return fallback }
        return try scalar(key, tree, "true or false") { ["true": true, "false": false][$0.lowercased()] }
    }

    public func string(_ key: String, default fallback: String?) throws -> String? {
        guard let tree = value(key) else { return fallback }
        return try scalar(key, tree, "a string") { $0 }
    }

    /// One of an enumeration's raw values.
    public func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, default fallback: Choice) throws -> Choice
    where Choice.RawValue == String {
        guard let tree = value(key) else { return fallback }
        let known = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        return try scalar(key, tree, "one of \(known)") { Choice(rawValue: $0) }
    }

    public func intList(_ key: String, default fallback: [Int], _ requirement: String, where rule: (Int) -> Bool) throws -> [Int] {
        guard let tree = value(key) else { return fallback }
        guard case .list(let items) = tree, !items.isEmpty else {
            throw VAEError("\(name(key)): expected a non-empty list of integers, found \(Self.describe(tree))")
        }
        return try items.enumerated().map { i, item in
            let element = "\(key)[\(i)]"
            return try checked(element, scalar(element, item, "an integer") { Int($0) }, rule, requirement)
        }
    }

    public func stringList(_ key: String, default fallback: [String]) throws -> [String] {
        guard let tree = value(key) else { return fallback }
        guard case .list(let items) = tree else { throw VAEError("\(name(key)): expected a list of strings, found \(Self.describe(tree))") }
        return try items.enumerated().map { i, item in try scalar("\(key)[\(i)]", item, "a string") { $0 } }
    }

    /// Throws for the first key present but never read: a typo or an option that does not exist.
    public func finish() throws {
        if let unknown = pairs.first(where: { !read.contains($0.key) }) {
            let known = read.sorted().joined(separator: ", ")
            throw VAEError("\(name(unknown.key)): unknown key (known here: \(known))")
        }
    }

    public func error(_ key: String, _ message: String) -> VAEError { VAEError("\(name(key)): \(message)") }

    private static func describe(_ tree: ConfigTree) -> String {
        switch tree {
        case .scalar(let text): "'\(text)'"
        case .null: "nothing"
        case .list: "a list"
        case .map: "a section"
        }
    }
}
