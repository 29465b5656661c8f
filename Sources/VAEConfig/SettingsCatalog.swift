// SettingsCatalog: every @Setting of TrainingConfig, found by reflection in declaration order, and what is
// made from them: the reader (a YAML or state.json tree, every key checked by its rule, every absent key its
// default), the YAML that `vae config` prints, state.json's tree, and docs/config.md.

import Foundation
import VAESupport

/// One setting: its declaration, and its value in the config it was taken from.
struct CatalogEntry {
    /// "training.batch_size": the section's key, then the setting's.
    let key: String
    /// The Swift properties it lives in, ["training", "batchSize"]: what the decoder's coding path says.
    let properties: [String]
    let doc: String
    /// What the reference says it allows: the rule's text, or the type's.
    let allowed: String
    /// Whether `allowed` says more than the YAML value shows: a rule, or a choice.
    let saysAllowed: Bool
    let yaml: String
    let json: Any
    /// The declaration itself, handed to the decoder (Setting.init(from:)).
    let declaration: Any
    /// Reads and checks a tree's value for this setting: what JSONSerialization takes, or a VAEError naming the key.
    let read: (ConfigTree) throws -> Any
}

/// What SettingsCatalog finds in a section's properties.
protocol CatalogedSetting {
    func entry(section: String, property: String) -> CatalogEntry
}

extension Setting: CatalogedSetting {
    func entry(section: String, property: String) -> CatalogEntry {
        let key = SettingsCatalog.key(ofSection: section) + "." + info.key, rule = info.rule
        return CatalogEntry(key: key, properties: [section, property], doc: info.doc, allowed: rule.text.isEmpty ? Value.kind : rule.text,
                            saysAllowed: !rule.text.isEmpty || Value.kind.hasPrefix("one of"),
                            yaml: wrappedValue.yaml, json: wrappedValue.json, declaration: self) { tree in
            let value = try Value.read(tree, key: key)
            try rule.check(value, key)
            return value.json
        }
    }
}

enum SettingsCatalog {
    /// The key of `Setting.init(from:)`'s declarations in the decoder's userInfo.
    static let declarations = CodingUserInfoKey(rawValue: "settingDeclarations")!

    /// Every setting's declaration, by its properties' path ("training.batchSize"); only read.
    struct Declarations: @unchecked Sendable {
        let byPath: [String: Any]
    }

    /// learningRate → learning_rate.
    static func key(ofSection property: String) -> String { property.replacing(/[A-Z]/) { "_" + $0.output.lowercased() } }

    /// Every setting of `config`, in declaration order.
    static func entries(_ config: TrainingConfig) -> [CatalogEntry] {
        Mirror(reflecting: config).children.flatMap { section in
            Mirror(reflecting: section.value).children.compactMap { child in
                (child.value as? CatalogedSetting)?.entry(section: section.label!, property: String(child.label!.dropFirst()))  // _batchSize
            }
        }
    }

    /// Keys read under an old name for one release, with a warning: the learning-rate settings' move into one section.
    static let renamed = [("training.learning_rate", "learning_rate.base"), ("training.lr_decay", "learning_rate.decay"),
                          ("training.lr_step_size", "learning_rate.decay_every_epochs"), ("schedule.warmup_steps", "learning_rate.warmup_steps"),
                          ("training.r_loss_factor", "loss.r_loss_factor")]
}

extension TrainingConfig {
    /// The config a YAML (or state.json) tree describes: every key present is read and checked, every other
    /// keeps its default. `warn` hears of old keys read under their new names.
    public init(_ tree: ConfigTree, warn: (String) -> Void = { _ in }) throws {
        let catalog = SettingsCatalog.entries(TrainingConfig())
        var given = try tree.leaves()
        for (old, new) in SettingsCatalog.renamed {
            guard let value = given.removeValue(forKey: old) else { continue }
            guard given[new] == nil else { throw VAEError("\(old): give \(new) alone (\(old) is its old name)") }
            warn("warning: \(old) is now \(new); this release still reads the old key")
            given[new] = value
        }
        var sections: [String: [String: Any]] = [:], declarations: [String: Any] = [:]
        for entry in catalog {
            sections[entry.properties[0], default: [:]][entry.properties[1]] = try given.removeValue(forKey: entry.key).map(entry.read) ?? entry.json
            declarations[entry.properties.joined(separator: ".")] = entry.declaration
        }
        if let unknown = given.keys.sorted().first {
            if let setting = catalog.first(where: { unknown.hasPrefix($0.key + ".") }) {
                throw VAEError("\(setting.key): expected \(setting.allowed), found a section")
            }
            let parent = unknown.split(separator: ".").dropLast().joined(separator: ".")
            let known = catalog.map(\.key).filter { parent.isEmpty ? true : $0.hasPrefix(parent + ".") }
                .map { parent.isEmpty ? String($0.prefix { $0 != "." }) : String($0.dropFirst(parent.count + 1).prefix { $0 != "." }) }
            if catalog.contains(where: { $0.key.hasPrefix(unknown + ".") }) {
                throw VAEError("\(unknown): expected a section of key: value pairs")
            }
            throw VAEError("\(unknown): unknown key (known here: \(Array(Set(known)).sorted().joined(separator: ", ")))")
        }
        let decoder = JSONDecoder()
        decoder.userInfo[SettingsCatalog.declarations] = SettingsCatalog.Declarations(byPath: declarations)
        self = try decoder.decode(TrainingConfig.self, from: JSONSerialization.data(withJSONObject: sections))
        try validate()
    }

    /// Reads a YAML file, applies `--set` overrides, and validates.
    public static func load(path: String, overrides: [String] = [], warn: (String) -> Void = { _ in }) throws -> TrainingConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VAEError("\(path): cannot read the config file (\(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"))")
        }
        return try parse(yaml: data, source: path, overrides: overrides, warn: warn)
    }

    /// Reads YAML bytes (a config file's), applies `--set` overrides, and validates; `source` names them in errors.
    public static func parse(yaml data: Foundation.Data, source path: String, overrides: [String] = [],
                             warn: (String) -> Void = { _ in }) throws -> TrainingConfig {
        guard let text = String(data: data, encoding: .utf8) else { throw VAEError("\(path): the config file is not UTF-8 text") }
        var tree = try ConfigTree.parse(yaml: text, source: path)
        for assignment in overrides { try tree.override(assignment) }
        do { return try TrainingConfig(tree, warn: warn) } catch let error as VAEError {
            throw VAEError("\(path): \(error.message)")
        }
    }

    /// The settings of `section` ("model"), each its key and its value as YAML writes it, in declaration order.
    public func settings(in section: String) -> [(key: String, value: String)] {
        SettingsCatalog.entries(self).filter { $0.key.hasPrefix(section + ".") }.map { ($0.key, $0.yaml) }
    }

    /// Every setting as YAML that `vae train --config` reads back to this config, each under its documentation.
    public var yaml: String {
        var text = "", open: [String] = []
        for entry in SettingsCatalog.entries(self) {
            let path = entry.key.split(separator: ".").map(String.init), sections = Array(path.dropLast())
            let shared = zip(open, sections).prefix { $0 == $1 }.count
            for (depth, section) in sections.enumerated().dropFirst(shared) {
                text += String(repeating: "  ", count: depth) + section + ":\n"
            }
            open = sections
            let indent = String(repeating: "  ", count: sections.count)
            for line in wrapped(entry.doc + (entry.saysAllowed ? " Allowed: \(entry.allowed)." : ""), width: 110 - indent.count) {
                text += indent + "# " + line + "\n"
            }
            text += indent + path.last! + ": " + entry.yaml + "\n"
        }
        return text
    }

    /// state.json's copy: every setting, nested by its key, as JSONSerialization takes it.
    public var settingsTree: [String: Any] {
        var tree: [String: Any] = [:]
        func insert(_ value: Any, at path: ArraySlice<String>, into node: inout [String: Any]) {
            guard path.count > 1 else { node[path.first!] = value; return }
            var child = node[path.first!] as? [String: Any] ?? [:]
            insert(value, at: path.dropFirst(), into: &child)
            node[path.first!] = child
        }
        for entry in SettingsCatalog.entries(self) { insert(entry.json, at: entry.key.split(separator: ".").map(String.init)[...], into: &tree) }
        return tree
    }

    /// docs/config.md: every setting, its default, what it allows and what it does, section by section.
    public static var reference: String {
        var text = """
            # Configuration reference

            Every setting of `vae train`, with its default (together, the book's digits run). Set them in a YAML file \
            (`--config FILE`) or one at a time (`--set section.key=value`); `vae config [--config FILE] [--set …]` prints \
            the complete config a run would use, as YAML that `--config` reads back.

            This file is generated from the settings' declarations (Sources/VAEConfig/TrainingConfig.swift) by \
            `vae config --reference > docs/config.md`; a test fails when it is stale.

            """
        var section = ""
        for entry in SettingsCatalog.entries(TrainingConfig()) {
            let name = String(entry.key.prefix { $0 != "." })
            if name != section {
                section = name
                text += "\n## \(name)\n\n| key | default | allowed | what it does |\n|---|---|---|---|\n"
            }
            text += "| `\(entry.key)` | `\(entry.yaml)` | \(entry.allowed) | \(entry.doc) |\n"
        }
        return text
    }
}

/// `text` broken into lines of at most `width` characters, at spaces.
private func wrapped(_ text: String, width: Int) -> [String] {
    var lines: [String] = [], line = ""
    for word in text.split(separator: " ") {
        if !line.isEmpty && line.count + 1 + word.count > width {
            lines.append(line)
            line = ""
        }
        line += (line.isEmpty ? "" : " ") + word
    }
    return line.isEmpty ? lines : lines + [line]
}
