import Foundation

/// A secret from the configuration: a literal, `env:NAME` or `file:PATH`. `source` is what may be
/// printed; `value` never is.
struct Secret: Sendable {
    let source: String
    let value: String

    enum Failure: Error, Equatable {
        case unsetVariable(String)
        case unreadableFile(String)
        case empty
    }

    static func resolve(_ text: String, environment: [String: String]) -> Result<Secret, Failure> {
        if text.hasPrefix("env:") {
            let name = String(text.dropFirst(4))
            guard let value = environment[name], !value.isEmpty else { return .failure(.unsetVariable(name)) }
            return .success(Secret(source: text, value: value))
        }
        if text.hasPrefix("file:") {
            let path = String(text.dropFirst(5))
            guard let data = FileManager.default.contents(atPath: path), let value = String(data: data, encoding: .utf8) else {
                return .failure(.unreadableFile(path))
            }
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? .failure(.empty) : .success(Secret(source: text, value: trimmed))
        }
        guard !text.isEmpty else { return .failure(.empty) }
        return .success(Secret(source: "literal", value: text))
    }

    /// How `check-config` shows it.
    var masked: String { source == "literal" ? "\"********\"" : "\"\(source)\" (set, ********)" }
}
