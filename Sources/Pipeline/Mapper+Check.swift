/// Warnings about a configuration that is valid but probably not what was meant, for
/// `tracktail check`. The configuration must already have passed `Mapper.init`.
extension Mapper {
    /// | warning | when |
    /// | --- | --- |
    /// | a catalogue event lacks documented properties or context | the rule's event name is a constant, or a rename target, and its templates do not provide them |
    /// | a rule is never reached | an earlier rule has no `when` |
    ///
    /// Members copied by `properties_from` are unknown until a line arrives, so a rule that has
    /// it gets its warnings with "unless … provides it".
    public static func ruleWarnings(_ configuration: MappingConfiguration) -> [String] {
        var warnings: [String] = []
        var catchAll: Int?
        for (i, rule) in configuration.rules.enumerated() {
            let label = rule.name.isEmpty ? "rule[\(i)]" : "rule[\(i)] (\(rule.name))"
            if let catchAll {
                warnings.append("\(label): never reached, because rule[\(catchAll)] has no `when` and takes every line")
            } else if rule.when.isEmpty {
                catchAll = i
            }
            guard rule.action == .map else { continue }

            var names: [String] = []
            if let source = rule.eventName, let template = try? Template(parsing: source), let constant = template.constant {
                names.append(rule.renameEvents.first { $0.from == constant }?.to ?? constant)
            }
            for (_, to) in rule.renameEvents where !names.contains(to) { names.append(to) }

            let propertyKeys = rule.properties.map(\.key).filter { !rule.dropProperties.contains($0) }
            let contextKeys = rule.context.map(\.key)
            let unless = rule.propertiesFrom.isEmpty
                ? ""
                : " unless \(rule.propertiesFrom.map { "\"\($0)\"" }.joined(separator: " or ")) provides it"
            for name in names {
                for warning in Catalogue.missing(eventName: name, propertyKeys: propertyKeys, contextKeys: contextKeys, recommended: true) {
                    let qualified = warning.contains("missing property") || warning.contains("no property") ? warning + unless : warning
                    warnings.append("\(label): \(qualified)")
                }
            }
        }
        return warnings
    }
}
