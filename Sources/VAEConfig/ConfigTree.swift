// ConfigTree: the YAML document (or state.json's config) as a plain tree, with `--set key.path=value`
// overrides applied to it; SettingsCatalog reads the settings out of it.

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

extension ConfigTree: Decodable {
    /// state.json's config, as JSON: booleans, then integers, numbers and strings, as their text.
    public init(from decoder: Decoder) throws {
        if let container = try? decoder.container(keyedBy: AnyKey.self) {
            self = .map(try container.allKeys.sorted { $0.stringValue < $1.stringValue }.map { ($0.stringValue, try container.decode(ConfigTree.self, forKey: $0)) })
        } else if var container = try? decoder.unkeyedContainer() {
            var items: [ConfigTree] = []
            while !container.isAtEnd { items.append(try container.decode(ConfigTree.self)) }
            self = .list(items)
        } else {
            let value = try decoder.singleValueContainer()
            if value.decodeNil() { self = .null }
            else if let bool = try? value.decode(Bool.self) { self = .scalar(String(bool)) }
            else if let int = try? value.decode(Int.self) { self = .scalar(String(int)) }
            else if let double = try? value.decode(Double.self) { self = .scalar("\(double)") }
            else { self = .scalar(try value.decode(String.self)) }
        }
    }

    private struct AnyKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}

extension ConfigTree {
    /// Every value by its dotted key path (sections opened up); a null keeps its setting's default, so is left out.
    func leaves() throws -> [String: ConfigTree] {
        var found: [String: ConfigTree] = [:]
        func walk(_ pairs: [(key: String, value: ConfigTree)], under prefix: String) {
            for (key, value) in pairs {
                let path = prefix.isEmpty ? key : prefix + "." + key
                switch value {
                case .map(let inner): walk(inner, under: path)
                case .null: continue
                default: found[path] = value
                }
            }
        }
        switch self {
        case .map(let pairs): walk(pairs, under: "")
        case .null: break
        default: throw VAEError("the config: expected a section of key: value pairs")
        }
        return found
    }

    /// What an error says the tree holds: 'text', a list, a section.
    var summary: String {
        switch self {
        case .scalar(let text): "'\(text)'"
        case .null: "nothing"
        case .list: "a list"
        case .map: "a section"
        }
    }
}
